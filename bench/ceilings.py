"""What the stationary dynamics alone allow: the tables of docs/results/counting.md ("The
ceiling set by A") and the ceiling paragraph of docs/results/rotation.md. Monte Carlo, seeded;
no model needed.

- counting: `spectrum.cycle_ceiling` for 4-, 5- and 10-cycles at several eigenvalue moduli;
- rotation: a plane turning by the view step with modulus r; a perfect decoder's pose advance
  counts when the turn lies within the step +- one view (5 deg) plus half a view for reading
  the nearest view, and is forward.

Usage: python bench/ceilings.py [--out bench/results/ceilings.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dynamic_vae.spectrum import cycle_ceiling

MODULI = (0.95, 0.97, 0.98, 0.99, 0.995, 0.997, 0.998, 0.999)
VIEW_DEGREES = 5.0


def turn_ceiling(modulus: float, step_degrees: float, num_samples: int = 200_000,
                 seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    state = rng.standard_normal(num_samples) + 1j * rng.standard_normal(num_samples)
    innovation = rng.standard_normal(num_samples) + 1j * rng.standard_normal(num_samples)
    following = (modulus * np.exp(1j * np.radians(step_degrees)) * state
                 + np.sqrt(1 - modulus ** 2) * innovation)
    turn = np.degrees(np.angle(following / state))
    tolerance = VIEW_DEGREES * 1.5
    return float(np.mean((turn > 0) & (np.abs(turn - step_degrees) <= tolerance)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                              "ceilings.json"))
    args = parser.parse_args()
    counting = {str(r): {str(p): cycle_ceiling(r * np.exp(2j * np.pi / p), p) for p in (4, 5, 10)}
                for r in MODULI}
    rotation = {str(r): {f"{s:g} deg": turn_ceiling(r, s) for s in (5.0, 20.0)} for r in MODULI}
    print(f"{'modulus':>8} {'4-cycle':>8} {'5-cycle':>8} {'10-cycle':>9} {'turn 5':>7} "
          f"{'turn 20':>8}")
    for r in MODULI:
        c, t = counting[str(r)], rotation[str(r)]
        print(f"{r:8.3f} {c['4']:8.3f} {c['5']:8.3f} {c['10']:9.3f} {t['5 deg']:7.3f} "
              f"{t['20 deg']:8.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"counting": counting, "rotation": rotation}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
