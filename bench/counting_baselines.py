"""The simple generators a counting run's synthesis is judged against, scored as
`counting_quality.py` scores the run: transition accuracy, and the diversity and Frechet
distance of the digit classifier's features against fresh real digits of the cycle.

Three generators, each built from the run's own training frames and drawn in cycle order:

- **class Gaussian**: one Gaussian per phase over the leading `--components` principal
  components of that phase's training frames (mean plus the components scaled by their
  standard deviations, the rest of the frame left at the mean), each frame drawn
  independently. It counts by construction and varies as far as 20 components allow.
- **loop of the first cycle**: the training frames' first P frames repeated (the clip's own
  loop, and what its Fourier series at the period replays): one template per digit.
- **replayed training frames**: a window of the training sequence itself, from a seeded
  start. Real handwriting by definition, and none of it new: every frame is a training
  frame (nearest-training-frame distance 0), and the sequence repeats after the clip's end.

A phase's training frames are those whose place in the cycle the classifier's majority
offset gives (`cycle_phases`), so runs trained on saved frames (`--cycle`) work alike.

Usage: python bench/counting_baselines.py RUN_DIR [--cycle 1234] [--length 1000]
           [--seeds 0,1,2,3,4] [--components 20] [--out PATH]
Prints a table and writes RUN_DIR/counting_baselines.json (and --out when given).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from counting_quality import handwriting_variety  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.evaluation.digit_order import cycle_phases  # noqa: E402
from dynamic_vae.evaluation.run_evaluation import load_run_frames  # noqa: E402
from dynamic_vae.pixels import from_pixel_range  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402
from results_file import write_results  # noqa: E402


def class_gaussian(frames: np.ndarray, phases: np.ndarray, period: int, length: int,
                   components: int, seed: int) -> np.ndarray:
    """`(length, H, W, C)` uint8: frame t drawn from the Gaussian over the leading
    `components` principal components of the training frames at phase `t % period`."""
    rng = np.random.default_rng(seed)
    flat = frames.reshape(len(frames), -1).astype(np.float64) / 255.0
    models = []
    for phase in range(period):
        members = flat[phases == phase]
        mean = members.mean(0)
        _, singular, directions = np.linalg.svd(members - mean, full_matrices=False)
        scales = singular[:components] / np.sqrt(len(members) - 1)
        models.append((mean, scales[:, None] * directions[:components]))
    drawn = np.empty((length, flat.shape[1]))
    for t in range(length):
        mean, scaled = models[t % period]
        drawn[t] = mean + rng.standard_normal(len(scaled)) @ scaled
    return (np.clip(drawn, 0, 1) * 255).round().astype(np.uint8).reshape(
        (length,) + frames.shape[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--cycle", default=None,
                        help="the cycle the frames count (default: the run's own)")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = load_run(args.run)
    cycle = args.cycle or run.config.training.cycle
    if not cycle:
        raise SystemExit(f"{args.run}: its config names no cycle; pass --cycle")
    period = len(cycle)
    seeds = [int(s) for s in args.seeds.split(",")]
    # uint8, as synthesised frames are judged.
    training = from_pixel_range(load_run_frames(run), run.model.pixel_range)
    if len(training) <= args.length:
        raise SystemExit(f"--length: expected fewer frames than the run's {len(training)} "
                         f"training frames, got {args.length}")
    classifier, _ = load_digit_classifier()
    phases = cycle_phases(classify_digits(classifier, training)[0], cycle)
    generators = {
        "class Gaussian": lambda seed: class_gaussian(
            training, phases, period, args.length, args.components, seed),
        "loop of the first cycle": lambda seed: np.concatenate(
            [training[:period]] * (args.length // period + 1))[:args.length],
        "replayed training frames": lambda seed: training[
            (start := np.random.default_rng(seed).integers(len(training) - args.length)):
            start + args.length],
    }
    sequences, accuracy = {}, {}
    for name, generate in generators.items():
        sequences[name] = [generate(seed) for seed in seeds]
        accuracy[name] = [transition_accuracy(classify_digits(classifier, frames)[0], cycle)
                          for frames in sequences[name]]
    variety = handwriting_variety(classifier, sequences, cycle, run.config.training.seed)
    print(f"{len(seeds)} seeds x {args.length} frames, cycle {cycle}, from {len(training)} "
          f"training frames")
    print(f"{'generator':>24}  transition accuracy (worst)  diversity  Frechet distance "
          "(real vs real)")
    for name in generators:
        scores = variety[name]
        fd = ("n/a" if scores["frechet_distance"] is None else
              f"{scores['frechet_distance']:.1f} ({scores['frechet_distance_real']:.1f})")
        diversity = ("n/a" if scores["diversity_ratio"] is None
                     else f"{scores['diversity_ratio']:.2f}")
        print(f"{name:>24}  {np.mean(accuracy[name]):.3f} ({np.min(accuracy[name]):.3f})"
              f"{'':>14}{diversity:>9}  {fd}")
    result = {
        "run": str(args.run), "cycle": cycle, "length": args.length, "seeds": seeds,
        "components": args.components,
        "generators": {name: {"transition_accuracy": float(np.mean(accuracy[name])),
                              "min_transition_accuracy": float(np.min(accuracy[name])),
                              **variety[name]} for name in generators}}
    write_results(args.run / "counting_baselines.json", result)
    if args.out:
        write_results(args.out, result)


if __name__ == "__main__":
    main()
