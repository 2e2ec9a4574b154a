"""Where a periodic counting run's decoder reads the digit: the locked planes or the
dimensions the innovations drive.

Encodes windows of 9 frames of fresh counting MNIST (seed 1, not the training sequence's 0)
with the run's smoothed posterior, splits each state into its persistent part `p` and its
innovation-driven part `s` (`dynamic_vae.models.driven_prior.innovation_projections`), and
has the project's digit classifier read frames decoded from

- the posterior means as they are;
- `p` with the `s` of another frame (a random permutation);
- `p` with `s` drawn from N(0, Q_s), as synthesis draws it.

It also reports how well the digit can be told from `s` alone (nearest class mean, fitted on
the first half of the states and scored on the second; chance is one over the cycle's
length), the distance of the mean of `s` from the origin and its total variance (the prior's
is the number of driven dimensions), and `phase_dependence` over batches of 144 states.

Usage: python bench/driven_prior_diagnostics.py RUN_DIR --cycle 56789 [--windows 200]
Prints a table and writes RUN_DIR/driven_prior_diagnostics.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.data.counting_mnist import counting_mnist  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier)
from dynamic_vae.models.driven_prior import (innovation_projections,  # noqa: E402
                                             phase_dependence)
from dynamic_vae.models.window_posterior import smoothed_window_posterior  # noqa: E402
from dynamic_vae.pixels import to_pixel_range, to_unit_range  # noqa: E402
from dynamic_vae.runs import load_dynamic_vae  # noqa: E402

WINDOW = 9
# Windows per batch `phase_dependence` is read over: a training batch's 144 states.
BATCH_WINDOWS = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--cycle", required=True, help="the run's digit cycle, e.g. 56789")
    parser.add_argument("--windows", type=int, default=200)
    args = parser.parse_args()
    if args.windows < 2 * BATCH_WINDOWS:
        parser.error(f"--windows: expected at least {2 * BATCH_WINDOWS} (two batches of "
                     f"{BATCH_WINDOWS} windows), got {args.windows}")

    model = load_dynamic_vae(Path(args.run_dir) / "model.keras")
    if model.model_config.posterior != "smoothed":
        raise SystemExit(f"{args.run_dir}: expected a run with the smoothed posterior, got "
                         f"{model.model_config.posterior!r}")
    n = model.latent_dim
    frames, digits = counting_mnist(args.cycle, args.windows * WINDOW, seed=1)
    mean, log_variance = model.encoder(to_pixel_range(frames, model.pixel_range))
    transition, noise = model.transition()
    means, _, _ = smoothed_window_posterior(tf.reshape(mean, [-1, WINDOW, n]),
                                            tf.exp(tf.reshape(log_variance, [-1, WINDOW, n])),
                                            transition, noise)
    states = means.numpy().reshape(-1, n).astype("float64")
    q_persistent, q_driven = (q.numpy() for q in innovation_projections(noise))
    persistent, driven = states @ q_persistent, states @ q_driven

    classifier, _ = load_digit_classifier()
    rng = np.random.default_rng(0)

    def read(decoder_input: np.ndarray) -> float:
        decoded = model.decode(decoder_input.astype("float32")).numpy()
        predicted, _ = classify_digits(classifier, to_unit_range(decoded, model.pixel_range))
        return float(np.mean(predicted == digits))

    half = len(states) // 2
    classes = np.unique(digits)
    centres = np.stack([driven[:half][digits[:half] == c].mean(0) for c in classes])
    nearest = classes[np.argmin(((driven[half:, None] - centres[None]) ** 2).sum(-1), 1)]
    prior_draws = rng.standard_normal(states.shape) @ q_driven
    batch = BATCH_WINDOWS * WINDOW
    result = {
        "run": str(args.run_dir), "cycle": args.cycle, "states": len(states),
        "driven_dimensions": int(round(np.trace(q_driven))),
        "posterior_means": read(states),
        "driven_from_another_frame": read(persistent + driven[rng.permutation(len(states))]),
        "driven_from_the_prior": read(persistent + prior_draws),
        "digit_from_driven_alone": float(np.mean(nearest == digits[half:])),
        "driven_mean_norm": float(np.linalg.norm(driven.mean(0))),
        "driven_total_variance": float(np.trace(np.cov(driven.T))),
        "phase_dependence": float(np.mean([
            phase_dependence(states[i:i + batch].astype("float32"), noise)
            for i in range(0, len(states) - batch + 1, batch)])),
    }
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:>{width}}  {value:.3f}" if isinstance(value, float)
              else f"{key:>{width}}  {value}")
    atomic_write_text(Path(args.run_dir) / "driven_prior_diagnostics.json",
                      json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
