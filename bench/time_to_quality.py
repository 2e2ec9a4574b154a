"""Time to quality: wall time for a counting preset to reach given transition accuracies.

Trains a counting-MNIST model epoch by epoch and, after each epoch, synthesises sequences from
x_0 ~ N(0, I) (several seeds), reads their digits with the project's classifier and records the
transition accuracy. Training time excludes the evaluation time. Prints a table and writes JSON.
Not a test: numbers depend on the machine.

Usage: python bench/time_to_quality.py [--preset counting-mnist] [--cycle 1234] [--epochs 20]
           [--targets 0.8,0.9,0.95] [--frames 200] [--seeds 0,1,2] [--set kl_weight=0.3 ...]
           [--save-run DIR]   (also keep the trained model as a run directory, for
                               `dynamic-vae evaluate` or bench/cycle_plane.py)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.config import get_preset  # noqa: E402
from dynamic_vae.data import make_frame_pairs  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.outputs import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import spectrum_report  # noqa: E402
from dynamic_vae.synthesis import synthesize  # noqa: E402
from dynamic_vae.training import (build_model, load_training_frames,  # noqa: E402
                                  save_model)


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set: expected FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return overrides


class QualityProbe(keras.callbacks.Callback):
    """Measures transition accuracy after every epoch, keeping its own time out of the clock."""

    def __init__(self, cycle: str, frames: int, seeds: list[int]) -> None:
        super().__init__()
        self.cycle, self.frames, self.seeds = cycle, frames, seeds
        self.classifier, _ = load_digit_classifier()
        self.rows: list[dict] = []
        self.training_seconds = 0.0
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.training_seconds += time.perf_counter() - self._epoch_start
        accuracies, legible = [], []
        for seed in self.seeds:
            frames, _ = synthesize(self.model, self.frames, seed=seed)
            digits, confidence = classify_digits(self.classifier, frames[0])
            accuracies.append(transition_accuracy(digits, self.cycle))
            legible.append(float(np.mean(confidence > 0.9)))
        radius = spectrum_report(*self.model.transition())["spectral_radius"]
        row = {"epoch": epoch + 1, "training_seconds": self.training_seconds,
               "transition_accuracy": float(np.mean(accuracies)),
               "legible_fraction": float(np.mean(legible)), "spectral_radius": radius}
        self.rows.append(row)
        print(f"{row['epoch']:5d} {row['training_seconds']:8.0f} "
              f"{row['transition_accuracy']:8.3f} {row['legible_fraction']:8.3f} "
              f"{radius:8.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="counting-mnist")
    parser.add_argument("--cycle", default="1234")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--targets", default="0.8,0.9,0.95")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="config overrides, e.g. kl_weight=0.3 sigma=0.7")
    parser.add_argument("--save-run", type=Path, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "time_to_quality.json"))
    args = parser.parse_args()

    overrides = parse_overrides(args.set)
    config = get_preset(args.preset).override(cycle=args.cycle, epochs=args.epochs, **overrides)
    frames, data = load_training_frames(config)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    keras.utils.set_random_seed(config.training.seed)
    model = build_model(config)
    dataset = pairs.dataset(config.training.batch_size, seed=config.training.seed,
                            window=config.training.window)
    probe = QualityProbe(args.cycle, args.frames, [int(s) for s in args.seeds.split(",")])
    print(f"{'epoch':>5} {'train s':>8} {'acc':>8} {'legible':>8} {'radius':>8}")
    with warnings.catch_warnings():
        # Keras warns that shuffle=True is ignored for datasets; ours shuffles itself.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        model.fit(dataset, epochs=config.training.epochs, callbacks=[probe], verbose=0)

    targets = [float(t) for t in args.targets.split(",")]
    reached = {}
    for target in targets:
        first = next((r for r in probe.rows if r["transition_accuracy"] >= target), None)
        reached[str(target)] = (None if first is None else
                                {"epoch": first["epoch"],
                                 "training_seconds": first["training_seconds"]})
    best = max(probe.rows, key=lambda r: r["transition_accuracy"])
    print("\ntarget  reached after")
    for target, hit in reached.items():
        print(f"{target:>6}  " + ("not reached" if hit is None else
                                   f"epoch {hit['epoch']}, {hit['training_seconds']:.0f} s"))
    print(f"best: {best['transition_accuracy']:.3f} at epoch {best['epoch']} "
          f"({best['training_seconds']:.0f} s)")
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "tensorflow": tf.__version__},
              "preset": args.preset, "cycle": args.cycle, "overrides": overrides,
              "eval_frames": args.frames, "eval_seeds": args.seeds,
              "per_epoch": probe.rows, "reached": reached, "best": best}
    if args.save_run is not None:
        args.save_run.mkdir(parents=True, exist_ok=True)
        save_model(model, args.save_run / "model.keras")
        atomic_write_text(args.save_run / "config.json",
                          json.dumps({**config.to_dict(), "data": data}, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
