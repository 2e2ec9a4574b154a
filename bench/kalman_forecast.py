"""The Kalman `forecast` of a trained video run on the held-out tail of its clip.

The clip is read as `experiment textures` reads it (size, colour, the last fifth held out,
at least 12 frames). From windows of `--context` consecutive held-out frames (every second
start), `dynamic_vae.inference.forecast` predicts the next `--steps`; each is scored by its
mean squared pixel error in [0, 1] against the true frame, beside repeating the window's
last frame. Needs a run trained on the clip's other frames, e.g. a run of
`experiment textures`.

Usage:
    python bench/kalman_forecast.py RUN CLIP [--color gray] [--size 48] [--context 10]
        [--steps 1,5,10]
Writes bench/results/kalman_forecast.json (`--output` chooses another file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.data import load_video  # noqa: E402
from dynamic_vae.experiments.textures_experiment import split_heldout_tail  # noqa: E402
from dynamic_vae.inference import forecast  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--color", choices=("gray", "rgb"), default="gray")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--steps", default="1,5,10")
    parser.add_argument("--output", type=Path,
                        default=Path("bench/results/kalman_forecast.json"))
    args = parser.parse_args(argv)
    steps = [int(k) for k in args.steps.split(",")]
    frames = load_video(args.clip, color=args.color, size=args.size)
    _, tail = split_heldout_tail(frames, args.test_fraction, args.clip)
    test = len(tail)
    model = load_run(args.run).model
    unit = tail.astype(np.float32) / 255.0
    errors: dict[str, dict[int, list[float]]] = {"forecast": {k: [] for k in steps},
                                                 "last frame": {k: [] for k in steps}}
    ends = range(args.context - 1, len(tail) - max(steps), 2)
    if not len(ends):
        raise SystemExit(f"{args.clip}: a held-out tail of {test} frames is too short for "
                         f"windows of {args.context} and {max(steps)} steps")
    for end in ends:
        window = tail[end - args.context + 1:end + 1]
        mean, _ = forecast(model, window, max(steps), as_uint8=False)
        for k in steps:
            target = unit[end + k]
            errors["forecast"][k].append(float(np.mean((mean[k - 1] - target) ** 2)))
            errors["last frame"][k].append(float(np.mean((unit[end] - target) ** 2)))
    print(f"{len(ends)} windows of {args.context} frames; MSE x 1000")
    print("| forecaster | " + " | ".join(f"k={k}" for k in steps) + " |")
    print("|---|" + "---|" * len(steps))
    summary = {}
    for name, by_step in errors.items():
        summary[name] = {str(k): float(np.mean(v)) for k, v in by_step.items()}
        print(f"| {name} | " + " | ".join(f"{1000 * summary[name][str(k)]:.3f}"
                                          for k in steps) + " |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, json.dumps({
        "date": time.strftime("%Y-%m-%d"), "run": str(args.run), "clip": str(args.clip),
        "windows": len(ends), "context": args.context, "mse": summary}, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
