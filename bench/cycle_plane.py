"""Where a counting run's errors come from, in the plane of A that carries the cycle.

1. Prior hole: radii of the encoded training frames in that plane against the radii the
   stationary N(0, I) gives synthesis (both in units of the prior's standard deviation).
2. Dynamics vs decoder: transition accuracy of synthesised sequences when the cycle
   eigenvalue's modulus is replaced (B re-derived as chol(I - A A^T)); if accuracy stays low
   at a high modulus, the decoder is the limit.

Usage: python bench/cycle_plane.py RUN [--moduli 0.99,0.995,0.997] [--seeds 5] [--frames 200]
Prints a table and writes RUN/cycle_plane.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.config import RunConfig  # noqa: E402
from dynamic_vae.data.frame_pairs import from_pixel_range, to_pixel_range  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.outputs import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import cycle_eigenvalue  # noqa: E402
from dynamic_vae.synthesis import decode_in_batches, synthesize_latents  # noqa: E402
from dynamic_vae.training import load_run, load_training_frames  # noqa: E402

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def plane_coordinates(transition_matrix: np.ndarray, period: int) -> np.ndarray:
    """A `(2, n)` map from latents to coordinates in the cycle eigenvalue's invariant plane."""
    eigenvalues, vectors = np.linalg.eig(transition_matrix)
    target = cycle_eigenvalue(transition_matrix, period)
    index = int(np.argmin(np.abs(eigenvalues - target)))
    basis = np.stack([vectors[:, index].real, vectors[:, index].imag], axis=1)
    return np.linalg.pinv(basis)


def with_modulus(a: np.ndarray, period: int, modulus: float) -> tuple[np.ndarray, np.ndarray]:
    eigenvalues, vectors = np.linalg.eig(a)
    target = cycle_eigenvalue(a, period)
    scaled = eigenvalues.copy()
    for i, value in enumerate(eigenvalues):
        if np.isclose(value, target) or np.isclose(value, np.conj(target)):
            scaled[i] = value / abs(value) * modulus
    new_a = np.real(vectors @ np.diag(scaled) @ np.linalg.inv(vectors))
    residual = np.eye(len(a)) - new_a @ new_a.T
    if np.linalg.eigvalsh(residual).min() < -1e-9:
        raise ValueError(f"modulus {modulus}: I - A A^T is no longer positive semi-definite")
    return new_a, np.linalg.cholesky(residual + 1e-9 * np.eye(len(a)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--moduli", default="0.99,0.995,0.997")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    model, config = load_run(args.run)
    cycle = config["training"]["cycle"]
    period = len(cycle)
    a, _ = model.transition()
    to_plane = plane_coordinates(a, period)

    run_config = RunConfig.from_dict({k: config[k] for k in ("model", "training")})
    frames, _ = load_training_frames(run_config)
    frames = to_pixel_range(frames[:2000], model.pixel_range)
    pairs = np.stack([frames[:-1], frames[1:]], axis=1)
    codes = model.encode_states(pairs).numpy()[:, :model.latent_dim]
    prior = np.random.default_rng(0).standard_normal((20000, model.latent_dim))
    scale = np.sqrt(np.mean((prior @ to_plane.T) ** 2))

    def radii(latents: np.ndarray) -> list[float]:
        plane = latents @ to_plane.T / scale
        return [float(q) for q in np.quantile(np.hypot(*plane.T), QUANTILES)]

    result = {"run": str(args.run), "cycle": cycle, "quantiles": list(QUANTILES),
              "encoded_radii": radii(codes), "prior_radii": radii(prior)}
    print("radius quantiles in the cycle plane " + " ".join(f"{q:>5}" for q in QUANTILES))
    print(f"{'encoded training frames':35} " + " ".join(f"{r:5.2f}" for r in
                                                       result["encoded_radii"]))
    print(f"{'stationary prior N(0, I)':35} " + " ".join(f"{r:5.2f}" for r in
                                                        result["prior_radii"]))

    classifier, _ = load_digit_classifier()
    result["accuracy_by_modulus"] = {}
    print(f"\n{'cycle modulus':>14} {'transition acc':>15} {'legible':>8}")
    for modulus in [None] + [float(m) for m in args.moduli.split(",")]:
        new_a, new_b = (a, np.linalg.cholesky(np.eye(len(a)) - a @ a.T + 1e-9 * np.eye(len(a)))
                        ) if modulus is None else with_modulus(a, period, modulus)
        accuracies, legible = [], []
        for seed in range(args.seeds):
            latents = synthesize_latents(new_a, new_b, args.frames, seed=seed)
            images = from_pixel_range(decode_in_batches(model, latents), model.pixel_range)
            digits, confidence = classify_digits(classifier, images[0])
            accuracies.append(transition_accuracy(digits, cycle))
            legible.append(float(np.mean(confidence > 0.9)))
        label = f"{abs(cycle_eigenvalue(a, period)):.4f} (learned)" if modulus is None \
            else f"{modulus}"
        result["accuracy_by_modulus"][label] = {"transition_accuracy": float(np.mean(accuracies)),
                                                "legible_fraction": float(np.mean(legible))}
        print(f"{label:>14} {np.mean(accuracies):15.3f} {np.mean(legible):8.3f}")
    atomic_write_text(args.run / "cycle_plane.json", json.dumps(result, indent=2))
    print(f"wrote {args.run / 'cycle_plane.json'}")


if __name__ == "__main__":
    main()
