"""Where the `video` preset's first stage starts A: the least-squares A and its clipped start.

For each clip of `experiment textures` (built as the experiment builds it: the same size,
colour and held-out tail; `--family rotation`: each COIL turn of `experiment rotation`), the linear start (`linear_texture_parameters`) is fitted as the
first stage fits it: n principal components of every training frame, scaled to unit
variance, and A by least squares on the consecutive states of the training pairs (the last
tenth, at least one window of 4 frames, is the stage's validation). Printed per clip:

- the least-squares A's largest singular value and the range of its eigenvalues' moduli;
- the moduli of the start the preset takes (each singular value clipped at 0.99);
- the moduli that scaling the whole matrix to norm 0.99 would give instead.

A short drifting clip has a non-normal least-squares A (one singular value well above 1
beside eigenvalues near 1): clipping keeps its slow directions slow, scaling does not.
Needs no training; runs in seconds. Writes bench/results/linear_start.json.

Usage:
    python bench/linear_start.py --data-dir DATA [--color rgb --size 64]
        [--clips dyntex/seawave.avi] [--rank 10]
    python bench/linear_start.py --family rotation --data-dir DATA
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.experiments import FAMILIES  # noqa: E402
from dynamic_vae.models.linear_initialisation import (MAX_INITIAL_NORM,  # noqa: E402
                                                      linear_texture_parameters)
from results_file import write_results  # noqa: E402


# The video preset's first stage: its validation fraction and window.
VALIDATION_FRACTION = 0.1
WINDOW = 4


def _moduli(matrix: np.ndarray) -> list[float]:
    return sorted((float(v) for v in np.abs(np.linalg.eigvals(matrix))), reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10, help="n, the state size (default 10)")
    parser.add_argument("--family", choices=("textures", "rotation"), default="textures",
                        help="whose conditions to build (default textures; rotation: the "
                             "COIL turns, as with --harmonic-start false)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/linear_start.json"))
    known, rest = parser.parse_known_args(argv)
    family = FAMILIES[known.family]
    args = family.parse_flags(rest)

    rows = []
    print("| clip | largest singular value (least squares) | moduli (least squares) | "
          "moduli, clipped start | moduli, scaled to norm 0.99 |")
    print("|---|---|---|---|---|")
    for condition in family.conditions(args):
        training = condition.frames.astype(np.float64) / 255.0
        # As `split_validation_windows` holds out the validation frames of the preset's
        # first stage (fraction 0.1, windows of 4).
        held = max(int(np.ceil(VALIDATION_FRACTION * len(training))), WINDOW)
        pairs = np.arange(len(training) - held - 1)
        start = linear_texture_parameters(training, pairs, known.rank,
                                          subspace_frames=np.arange(len(training)))
        states = (training.reshape(len(training), -1) - start["mean"]) @ start["projection"]
        least_squares = np.linalg.lstsq(states[pairs], states[pairs + 1], rcond=None)[0].T
        norm = float(np.linalg.norm(least_squares, 2))
        scaled = least_squares * min(1.0, MAX_INITIAL_NORM / norm)
        name = condition.labels.get("clip", condition.name)
        row = {"clip": name, "training_frames": int(len(training)),
               "largest_singular_value": norm, "moduli_least_squares": _moduli(least_squares),
               "moduli_clipped_start": _moduli(start["transition"]),
               "moduli_scaled_start": _moduli(scaled)}
        rows.append(row)
        span = {key: f"{min(row[key]):.3f}-{max(row[key]):.3f}"
                for key in ("moduli_least_squares", "moduli_clipped_start",
                            "moduli_scaled_start")}
        print(f"| {row['clip']} | {norm:.3f} | {span['moduli_least_squares']} | "
              f"{span['moduli_clipped_start']} | {span['moduli_scaled_start']} |")
    write_results(known.output, {"rank": known.rank, "rows": rows})
    print(f"wrote {known.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
