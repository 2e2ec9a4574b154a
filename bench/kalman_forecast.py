"""The Kalman `forecast` of a trained video run on the held-out tail of its clip.

The clip is read as `experiment textures` reads it (size, colour, the last fifth held out,
at least 12 frames). From windows of `--context` consecutive held-out frames (every second
start), `dynamic_vae.inference.forecast` predicts the next `--steps`; each is scored by its
mean squared pixel error in [0, 1] against the true frame, beside repeating the window's
last frame. Needs a run trained on the clip's other frames, e.g. a run of
`experiment textures`.

With `--samples S` (default 8) each window also draws S sampled futures, scored per k by:
- the energy score `mean_s |X_s - y| - sum_{s != s'} |X_s - X_s'| / (2 S (S - 1))` (RMS
  norms over pixels; lower is better, and it rewards a spread that matches the error);
- the sharpness ratio of the sampled frames to the true ones
  (`dynamic_vae.evaluation.appearance.sharpness_ratio`; 1: as sharp).
Both for the sampled futures `forecast` returns, and for the same latent trajectories
decoded alone (the trajectories `forecast_frames` returns for the same seed, already moved
with the shrunk means), without the texture's sampled residual.

Usage:
    python bench/kalman_forecast.py RUN CLIP [--color gray] [--size 48] [--context 10]
        [--steps 1,5,10] [--samples 8]
Writes bench/results/kalman_forecast.json (`--output` chooses another file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import tensorflow as tf  # noqa: E402

from dynamic_vae.data import load_video  # noqa: E402
from dynamic_vae.evaluation.appearance import sharpness_ratio  # noqa: E402
from dynamic_vae.experiments.textures_experiment import split_heldout_tail  # noqa: E402
from dynamic_vae.inference import forecast  # noqa: E402
from dynamic_vae.inference.clip import forecast_frames  # noqa: E402
from dynamic_vae.pixels import to_pixel_range, to_unit_range  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402
from dynamic_vae.synthesis import decode_in_batches  # noqa: E402
from results_file import write_results  # noqa: E402


def energy_score(samples: np.ndarray, target: np.ndarray) -> float:
    """`mean_s |X_s - y| - sum_{s != s'} |X_s - X_s'| / (2 S (S - 1))`, with |.| the RMS over
    pixels (the unbiased form over S >= 2 samples)."""
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    truth = target.reshape(-1).astype(np.float64)
    error = np.sqrt(np.mean((flat - truth) ** 2, axis=1)).mean()
    pairs = np.sqrt(np.mean((flat[:, None] - flat[None]) ** 2, axis=2))
    count = len(flat)
    return float(error - pairs.sum() / (2 * count * max(count - 1, 1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--color", choices=("gray", "rgb"), default="gray")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--steps", default="1,5,10")
    parser.add_argument("--samples", type=int, default=8,
                        help="sampled futures per window (0: the mean forecast alone)")
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
    kinds = ("sampled futures", "decoded trajectories alone")
    scores: dict[str, dict[int, list[float]]] = {name: {k: [] for k in steps}
                                                 for name in kinds}
    drawn: dict[str, dict[int, list[np.ndarray]]] = {name: {k: [] for k in steps}
                                                     for name in kinds}
    for index, end in enumerate(ends):
        window = tail[end - args.context + 1:end + 1]
        mean, sampled = forecast(model, window, max(steps), num_samples=args.samples,
                                 seed=index, as_uint8=False)
        if args.samples:
            # The same trajectories (as `forecast` draws them for this seed, moved with the
            # shrunk means), decoded without the texture's sampled residual.
            _, _, _, latents, _ = forecast_frames(
                model, tf.constant(to_pixel_range(window, model.pixel_range)),
                tf.zeros([len(window)], tf.bool), max(steps), args.samples,
                tf.constant([index, 0], tf.int32))
            alone = to_unit_range(decode_in_batches(model, latents.numpy()),
                                  model.pixel_range)
        for k in steps:
            target = unit[end + k]
            errors["forecast"][k].append(float(np.mean((mean[k - 1] - target) ** 2)))
            errors["last frame"][k].append(float(np.mean((unit[end] - target) ** 2)))
            if args.samples:
                for name, frames_k in zip(kinds, (sampled[:, k - 1], alone[:, k - 1])):
                    scores[name][k].append(energy_score(frames_k, target))
                    drawn[name][k].append(frames_k)
    print(f"{len(ends)} windows of {args.context} frames; MSE x 1000")
    print("| forecaster | " + " | ".join(f"k={k}" for k in steps) + " |")
    print("|---|" + "---|" * len(steps))
    summary = {}
    for name, by_step in errors.items():
        summary[name] = {str(k): float(np.mean(v)) for k, v in by_step.items()}
        print(f"| {name} | " + " | ".join(f"{1000 * summary[name][str(k)]:.3f}"
                                          for k in steps) + " |")
    samples_summary = {}
    if args.samples:
        print(f"\n{args.samples} sampled futures per window: energy score x 1000 "
              "(lower is better) / sharpness ratio to the true frames")
        print("| samples | " + " | ".join(f"k={k}" for k in steps) + " |")
        print("|---|" + "---|" * len(steps))
        for name in kinds:
            samples_summary[name] = {
                str(k): {"energy_score": float(np.mean(scores[name][k])),
                         "sharpness_ratio": sharpness_ratio(
                             np.repeat(unit[[end + k for end in ends]], args.samples, 0),
                             np.concatenate(drawn[name][k]))}
                for k in steps}
            print(f"| {name} | " + " | ".join(
                f"{1000 * samples_summary[name][str(k)]['energy_score']:.3f} / "
                f"{samples_summary[name][str(k)]['sharpness_ratio']:.2f}" for k in steps)
                + " |")
    write_results(args.output, {
        "run": str(args.run), "clip": str(args.clip),
        "windows": len(ends), "context": args.context, "mse": summary,
        "samples": args.samples, "sampled": samples_summary})
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
