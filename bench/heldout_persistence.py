"""How an unseen frame's residual persists: the cross-validated curve against the held-out tail.

For each clip of `experiment textures` (built as the experiment builds it: the same size,
colour and held-out tail), a linear reconstruction of rank n (the mean frame and n principal
directions of the training frames, as the linear baseline) leaves a residual on every frame.
Three lag-k autocorrelations of that residual, k = 1..10, are printed:

- **cross-validated**: `heldout_persistence` on the training frames alone, as the residual
  texture computes the curve it forecasts with (`finish` leaves the validation tenth out);
- **held-out tail**: the best scalar decay on the tail itself, `<e_t, e_(t+k)> / <e_t, e_t>`
  over the experiment's prediction windows (what the forecast would ideally use; the tail
  is never seen by the curve);
- **training frames**: the residuals of the very frames the directions were fitted to.

Then the share of the dynamics' predicted change of the state that holds, lambda_k:
- **cross-validated**: `heldout_shrinkage` on the training frames alone, as the texture
  computes the shares its forecasts use;
- **held-out tail**: the least-squares share on the tail itself, with the linear baseline
  fitted to the training frames, `<(A^k - I) x_t, x_(t+k) - x_t> / |(A^k - I) x_t|^2` over
  the prediction windows, clipped to [0, 1].

Needs no training; runs in seconds. Writes bench/results/heldout_persistence.json.

Usage:
    python bench/heldout_persistence.py --data-dir DATA [--color rgb --size 64]
        [--clips dyntex/seawave.avi] [--rank 10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.baseline import LinearDynamicTexture  # noqa: E402
from dynamic_vae.evaluation.prediction import prediction_starts  # noqa: E402
from dynamic_vae.experiments import FAMILIES  # noqa: E402
from dynamic_vae.models.residual_texture import (heldout_persistence,  # noqa: E402
                                                 heldout_shrinkage)
from results_file import write_results  # noqa: E402

LAGS = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10, help="n, the state size (default 10)")
    parser.add_argument("--output", type=Path,
                        default=Path("bench/results/heldout_persistence.json"))
    known, rest = parser.parse_known_args(argv)
    family = FAMILIES["textures"]
    args = family.parse_flags(rest)

    rows = []
    lags = " | ".join(str(k) for k in range(1, LAGS + 1))
    print(f"| clip | autocorrelation | {lags} |")
    print("|---|---|" + "---|" * LAGS)
    for condition in family.conditions(args):
        # As the models are fitted: the last training pair is held out.
        training = condition.frames[:-1].astype(np.float64) / 255.0
        tail = condition.evaluate_options["heldout_frames"].astype(np.float64) / 255.0
        curve = heldout_persistence([training], rank=known.rank, lags=LAGS)
        starts = prediction_starts(len(tail), LAGS, 64)
        # The linear baseline's residuals: what its reconstruction leaves of a frame.
        baseline = LinearDynamicTexture(latent_dim=known.rank).fit(training)
        residual = baseline.residuals(tail).reshape(len(tail), -1)
        base = residual[starts]
        on_tail = [float((base * residual[starts + k]).sum() / (base ** 2).sum())
                   for k in range(1, LAGS + 1)]
        own = baseline.residuals(training).reshape(len(training), -1)
        in_sample = [float((own[:-k] * own[k:]).sum() / (own[:-k] ** 2).sum())
                     for k in range(1, LAGS + 1)]
        shares = heldout_shrinkage([training], rank=known.rank, lags=LAGS)
        states = baseline.encode(tail)
        tail_shares = []
        for k in range(1, LAGS + 1):
            change = states[starts] @ (np.linalg.matrix_power(baseline.transition_matrix, k)
                                       - np.eye(known.rank)).T
            came = states[starts + k] - states[starts]
            tail_shares.append(float(np.clip((change * came).sum() / max(
                (change ** 2).sum(), 1e-30), 0.0, 1.0)))
        row = {"clip": condition.labels["clip"], "windows": int(len(starts)),
               "cross_validated": [float(v) for v in curve], "heldout_tail": on_tail,
               "training_frames": in_sample,
               "shrinkage_cross_validated": [float(v) for v in shares],
               "shrinkage_heldout_tail": tail_shares}
        rows.append(row)
        for name, key in (("cross-validated", "cross_validated"),
                          ("held-out tail", "heldout_tail"),
                          ("training frames", "training_frames"),
                          ("share of the change, cross-validated", "shrinkage_cross_validated"),
                          ("share of the change, held-out tail", "shrinkage_heldout_tail")):
            values = " | ".join(f"{v:.2f}" for v in row[key])
            print(f"| {row['clip']} | {name} | {values} |")
    write_results(known.output, {"rank": known.rank, "rows": rows})
    print(f"wrote {known.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
