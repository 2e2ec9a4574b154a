"""How well a trained counting run counts: transition accuracy and legibility of synthesised
sequences, judged by the project's digit classifier.

Usage: python bench/counting_quality.py RUN_DIR [--frames 200] [--seeds 0,1,2,3,4]
Prints a table and writes RUN_DIR/counting_quality.json (and bench/results/ when --out is given).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.outputs import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import (cycle_ceiling, cycle_eigenvalue,  # noqa: E402
                                  spectrum_report)
from dynamic_vae.synthesis import synthesize  # noqa: E402
from dynamic_vae.training import load_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model, config = load_run(args.run)
    cycle = config["training"]["cycle"]
    classifier, classifier_accuracy = load_digit_classifier()
    rows = []
    print(f"digit classifier held-out accuracy: {classifier_accuracy:.3f}")
    print(f"{'seed':>4} {'noise':>5} {'transition acc':>14} {'legible':>8}  first digits")
    for noise_scale in (1.0, 0.0):
        for seed in [int(s) for s in args.seeds.split(",")]:
            frames, _ = synthesize(model, args.frames, seed=seed, noise_scale=noise_scale)
            digits, confidence = classify_digits(classifier, frames[0])
            row = {"seed": seed, "noise_scale": noise_scale,
                   "transition_accuracy": transition_accuracy(digits, cycle),
                   "legible_fraction": float(np.mean(confidence > 0.9)),
                   "digits": "".join(map(str, digits))}
            rows.append(row)
            print(f"{seed:4d} {noise_scale:5.1f} {row['transition_accuracy']:14.3f} "
                  f"{row['legible_fraction']:8.3f}  {row['digits'][:40]}")
    noisy = [r for r in rows if r["noise_scale"] == 1.0]
    eigenvalue = cycle_eigenvalue(model.transition()[0], len(cycle))
    ceiling = cycle_ceiling(eigenvalue, len(cycle))
    summary = {
        "run": str(args.run), "cycle": cycle, "frames": args.frames,
        "classifier_heldout_accuracy": classifier_accuracy,
        "mean_transition_accuracy": float(np.mean([r["transition_accuracy"] for r in noisy])),
        "mean_legible_fraction": float(np.mean([r["legible_fraction"] for r in noisy])),
        "spectral_radius": spectrum_report(*model.transition())["spectral_radius"],
        "cycle_eigenvalue": [eigenvalue.real, eigenvalue.imag],
        "cycle_ceiling": ceiling,
        "rows": rows,
    }
    print(f"mean over seeds (noise 1.0): transition accuracy "
          f"{summary['mean_transition_accuracy']:.3f}, legible {summary['mean_legible_fraction']:.3f}")
    print(f"cycle plane: eigenvalue modulus {abs(eigenvalue):.4f}, angle "
          f"{np.degrees(np.angle(eigenvalue)):.1f} deg; a perfect decoder would reach "
          f"{ceiling:.3f}")
    atomic_write_text(args.run / "counting_quality.json", json.dumps(summary, indent=2))
    if args.out:
        atomic_write_text(args.out, json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
