"""Time to quality: wall time for a counting preset to reach given transition accuracies.

Trains a counting-MNIST model epoch by epoch (through both stages of a preset with a
fine-tuning stage) and, after each epoch, synthesises sequences with several seeds from both
starts of eq. (35): x_0 from the held-out test pair (the paper's protocol, `dynamic-vae
generate`'s default; the targets are judged on it) and x_0 ~ N(0, I). The project's classifier
reads their digits. Training time excludes the evaluation time. Prints a table and writes JSON.
Not a test: numbers depend on the machine.

Usage: python bench/time_to_quality.py [--preset counting-mnist] [--cycle 1234] [--epochs 8]
           [--finetune-epochs 4] [--variety-epochs 4] [--targets 0.8,0.9,0.95] [--length 200] [--seeds 0,1,2]
           [--set kl_weight=0.3 ...]
           [--save-run DIR]   (also keep the trained model as a run directory, for
                               `dynamic-vae evaluate` or bench/cycle_plane.py)
"""

from __future__ import annotations

import argparse
import json
import os
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
from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import spectrum_report  # noqa: E402
from dynamic_vae.synthesis import synthesize  # noqa: E402
from dynamic_vae.pixels import to_unit_range  # noqa: E402
from dynamic_vae.runs import (CONFIG_FILE, MODEL_FILE, save_model,  # noqa: E402
                              save_test_pairs)
from dynamic_vae.training import (build_model, copy_weights,  # noqa: E402
                                  load_training_frames)
from results_file import write_results  # noqa: E402


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set: expected FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return overrides


class QualityProbe(keras.callbacks.Callback):
    """Measures transition accuracy after every epoch, keeping its own time out of the clock.

    One probe follows every stage: `stage` names the one training now, and epochs count on
    across stages.
    """

    def __init__(self, cycle: str, frames: int, seeds: list[int], test_pair: np.ndarray
                 ) -> None:
        super().__init__()
        self.cycle, self.frames, self.seeds = cycle, frames, seeds
        self.starts = {"test_pair": test_pair, "prior": None}
        self.classifier, _ = load_digit_classifier()
        self.rows: list[dict] = []
        self.training_seconds = 0.0
        self.stage = "first"
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def _quality(self, pair: np.ndarray | None) -> tuple[float, float]:
        accuracies, legible = [], []
        for seed in self.seeds:
            frames, _ = synthesize(self.model, self.frames, seed=seed, initial_pair=pair)
            digits, confidence = classify_digits(self.classifier, frames[0])
            accuracies.append(transition_accuracy(digits, self.cycle))
            legible.append(float(np.mean(confidence > 0.9)))
        return float(np.mean(accuracies)), float(np.mean(legible))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.training_seconds += time.perf_counter() - self._epoch_start
        accuracy, legible = self._quality(self.starts["test_pair"])
        prior_accuracy, prior_legible = self._quality(None)
        radius = spectrum_report(*self.model.transition())["spectral_radius"]
        row = {"epoch": len(self.rows) + 1, "stage": self.stage,
               "training_seconds": self.training_seconds,
               "transition_accuracy": accuracy, "legible_fraction": legible,
               "prior_transition_accuracy": prior_accuracy,
               "prior_legible_fraction": prior_legible, "spectral_radius": radius}
        self.rows.append(row)
        print(f"{row['epoch']:5d} {self.stage:>8} {row['training_seconds']:8.0f} "
              f"{accuracy:8.3f} {legible:8.3f} {prior_accuracy:8.3f} {prior_legible:8.3f} "
              f"{radius:8.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="counting-mnist")
    parser.add_argument("--cycle", default="1234")
    parser.add_argument("--epochs", type=int, default=None,
                        help="first-stage epochs (default: the preset's)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="fine-tuning epochs (default: the preset's; 0: none)")
    parser.add_argument("--variety-epochs", type=int, default=None,
                        help="variety-stage epochs (default: the preset's; 0: none)")
    parser.add_argument("--targets", default="0.8,0.9,0.95")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="config overrides, e.g. kl_weight=0.3 sigma=0.7")
    parser.add_argument("--save-run", type=Path, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "time_to_quality.json"))
    args = parser.parse_args()

    overrides = parse_overrides(args.set)
    config = get_preset(args.preset).override(cycle=args.cycle, epochs=args.epochs,
                                              finetune_epochs=args.finetune_epochs,
                                              variety_epochs=args.variety_epochs,
                                              **overrides)
    names, stages = config.stage_names(), config.stages()
    frames, data = load_training_frames(config)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    test_pair = to_unit_range(pairs.test_pairs, config.model.pixel_range)[0]
    probe = QualityProbe(args.cycle, args.length, [int(s) for s in args.seeds.split(",")],
                         test_pair)
    print(f"{'epoch':>5} {'stage':>8} {'train s':>8} {'acc':>8} {'legible':>8} "
          f"{'prior':>8} {'legible':>8} {'radius':>8}   (acc: x0 from the test pair)")
    model = None
    for name, stage in zip(names, stages):
        keras.utils.set_random_seed(stage.training.seed)
        previous, model = model, build_model(stage)
        if previous is not None:
            copy_weights(previous, model)
        dataset = pairs.dataset(stage.training.batch_size, seed=stage.training.seed,
                                window=stage.training.window)
        probe.stage = name
        with warnings.catch_warnings():
            # Keras warns that shuffle=True is ignored for datasets; ours shuffles itself.
            warnings.filterwarnings("ignore", message=".*shuffle=True.*")
            model.fit(dataset, epochs=stage.training.epochs, callbacks=[probe], verbose=0)

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
    result = {"tensorflow": tf.__version__,
              "preset": args.preset, "cycle": args.cycle, "overrides": overrides,
              "stages": [stage.to_dict() for stage in stages],
              "targets_judged_on": "x0 from the held-out test pair",
              "eval_frames": args.length, "eval_seeds": args.seeds,
              "per_epoch": probe.rows, "reached": reached, "best": best}
    if args.save_run is not None:
        args.save_run.mkdir(parents=True, exist_ok=True)
        save_model(model, args.save_run / MODEL_FILE)
        save_test_pairs(args.save_run, pairs.test_pairs, config.model.pixel_range)
        atomic_write_text(args.save_run / CONFIG_FILE,
                          json.dumps({**stages[-1].to_dict(), "data": data}, indent=2))
    out = write_results(args.out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
