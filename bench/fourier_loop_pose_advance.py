"""The Fourier loop's pose advance on the conditions of `experiment periodic` and `rotation`.

The Fourier loop (`dynamic_vae.baseline.FourierLoop`) needs no training, so its column of
those experiments' tables can be measured alone, in seconds: each condition is built as the
experiment builds it (the same frames, the same period, the same true views), the loop is
fitted to the frames the linear baseline is fitted to, and `--seeds` syntheses of
`--horizon` frames are scored by `pose_advance_accuracy`, as in the experiments.

Usage:
    python bench/fourier_loop_pose_advance.py periodic --data-dir DATA [--clips tiger,horse]
        [--color gray|rgb]
    python bench/fourier_loop_pose_advance.py rotation --data-dir DATA [--objects 1,2]
        [--steps 1,4]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.experiments import FAMILIES  # noqa: E402
from dynamic_vae.evaluation.pose_advance import fourier_loop_accuracies  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=("periodic", "rotation"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=1000)
    known, rest = parser.parse_known_args(argv)
    family = FAMILIES[known.family]
    args = family.parse_flags(rest)
    seeds = list(range(known.seeds))
    print("| condition | period | pose-advance Fourier loop | worst seed |")
    print("|---|---|---|---|")
    for condition in family.conditions(args):
        fitted = condition.evaluate_options.get("frames", condition.frames)[:-1]
        labels = condition.labels
        if known.family == "periodic":
            period, views, step = labels["period"], labels["views"], 1
        else:
            period, views, step = labels["views"], labels["true_views"], labels["step"]
        accuracies = fourier_loop_accuracies(fitted, period, views, step, seeds,
                                             known.horizon)
        print(f"| {condition.name} | {period} | {np.mean(accuracies):.3f} | "
              f"{np.min(accuracies):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
