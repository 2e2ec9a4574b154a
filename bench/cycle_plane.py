"""Where a counting run's errors come from, in the plane of A that carries the cycle.

1. Prior hole: radii of the encoded training frames in that plane against the radii the
   stationary N(0, I) gives synthesis (both in units of the prior's standard deviation).
2. Dynamics vs decoder: transition accuracy of synthesised sequences when the cycle
   eigenvalue's modulus is replaced (B re-derived as chol(I - A A^T)); if accuracy stays low
   at a high modulus, the decoder is the limit.
3. What holds the modulus down: in the cycle plane (its left-eigenvector projection), the
   trace of B B^T against what the factorised KL would make it, the codes' one-step residual
   mu_{t+1} - A mu_t plus the posterior variances of both frames, S_{t+1} + A S_t A^T.
4. Where the decoder fails: with the modulus at 0.999 the state's radius in the cycle plane
   stays where it starts, so starting sequences at a given radius (the rest of x_0 ~ N(0, I))
   measures the decoder's transition accuracy as a function of that radius.

Usage: python bench/cycle_plane.py RUN [--moduli 0.99,0.995,0.997] [--seeds 5] [--length 200]
           [--radii 0.25,0.5,0.75,1,1.5,2,3]
Prints a table and writes RUN/cycle_plane.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.pixels import from_pixel_range, to_pixel_range  # noqa: E402
from dynamic_vae.evaluation.digit_classifier import (classify_digits,  # noqa: E402
                                                     load_digit_classifier,
                                                     transition_accuracy)
from dynamic_vae.atomic import atomic_write_text  # noqa: E402
from dynamic_vae.spectrum import cycle_eigenvalue  # noqa: E402
from dynamic_vae.synthesis import decode_in_batches, synthesize_latents  # noqa: E402
from dynamic_vae.runs import load_run  # noqa: E402
from dynamic_vae.training import load_training_frames  # noqa: E402

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
    return new_a, noise_for(new_a)


def noise_for(a: np.ndarray) -> np.ndarray:
    """B with B B^T = I - A A^T; where A A^T slightly exceeds I (the penalty is soft), the
    excess is clipped to zero noise."""
    values, vectors = np.linalg.eigh(np.eye(len(a)) - a @ a.T)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def accuracy_by_radius(model, a: np.ndarray, period: int, cycle: str, classifier,
                       radii: list[float], seeds: int, frames: int,
                       modulus: float = 0.999) -> dict[str, dict[str, float]]:
    """Transition accuracy of sequences whose cycle-plane radius starts (and, at this modulus,
    stays) at each of `radii`, in units of the prior's standard deviation in that plane."""
    new_a, new_b = with_modulus(a, period, modulus)
    eigenvalues, vectors = np.linalg.eig(new_a)
    target = cycle_eigenvalue(new_a, period)
    plane = [i for i, value in enumerate(eigenvalues)
             if np.isclose(value, target) or np.isclose(value, np.conj(target))]
    projector = np.real(vectors[:, plane] @ np.linalg.inv(vectors)[plane, :])
    to_plane = plane_coordinates(new_a, period)
    n = len(a)
    scale = np.sqrt(np.mean((np.random.default_rng(0).standard_normal((20000, n))
                             @ to_plane.T) ** 2))
    result = {}
    for radius in radii:
        accuracies = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            state = rng.standard_normal(n)
            in_plane = projector @ state
            state += in_plane * (radius * scale / np.hypot(*(to_plane @ in_plane)) - 1.0)
            states = [state]
            for _ in range(frames - 1):
                states.append(new_a @ states[-1] + new_b @ rng.standard_normal(n))
            images = from_pixel_range(decode_in_batches(model, np.asarray(states, "float32")),
                                      model.pixel_range)
            digits, _ = classify_digits(classifier, images)
            accuracies.append(transition_accuracy(digits, cycle))
        result[f"{radius:g}"] = {"transition_accuracy": float(np.mean(accuracies)),
                                 "worst_seed": float(np.min(accuracies))}
    return result


def innovation_budget(a: np.ndarray, b: np.ndarray, mean: np.ndarray,
                      variance: np.ndarray, period: int) -> dict[str, float]:
    """Traces in the cycle plane of B B^T, the codes' one-step residual covariance and the
    posterior-variance term; `mean`, `variance` are `(pairs, 2n)` frame-pair posteriors."""
    n = len(a)
    eigenvalues, vectors = np.linalg.eig(a)
    index = int(np.argmin(np.abs(eigenvalues - cycle_eigenvalue(a, period))))
    left = np.linalg.inv(vectors)[index]
    plane = np.stack([left.real, left.imag])

    def trace(matrix: np.ndarray) -> float:
        return float(np.trace(plane @ matrix @ plane.T))

    residual = mean[:, n:] - mean[:, :n] @ a.T
    posterior = np.diag(variance[:, n:].mean(0)) + a @ np.diag(variance[:, :n].mean(0)) @ a.T
    return {"noise_covariance": trace(b @ b.T),
            "code_residual": trace(residual.T @ residual / len(residual)),
            "posterior_variance": trace(posterior)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--moduli", default="0.99,0.995,0.997")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--radii", default="0.25,0.5,0.75,1,1.5,2,3")
    args = parser.parse_args()
    run = load_run(args.run)
    model, cycle = run.model, run.config.training.cycle
    period = len(cycle)
    a, _ = model.transition()
    to_plane = plane_coordinates(a, period)

    frames, _ = load_training_frames(run.config)
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

    if model.model_config.encoder_mode == "frame":
        mean, log_variance = (np.asarray(t) for t in model.encode(pairs))
        budget = innovation_budget(a, model.transition()[1], mean, np.exp(log_variance), period)
        result["innovation_budget"] = budget
        print(f"\ncycle plane traces: B B^T {budget['noise_covariance']:.4f}; the factorised "
              f"KL's optimum = code residual {budget['code_residual']:.4f} + posterior "
              f"variances {budget['posterior_variance']:.4f}")

    classifier, _ = load_digit_classifier()
    result["accuracy_by_modulus"] = {}
    print(f"\n{'cycle modulus':>14} {'transition acc':>15} {'legible':>8}")
    for modulus in [None] + [float(m) for m in args.moduli.split(",")]:
        new_a, new_b = ((a, model.transition()[1]) if modulus is None
                        else with_modulus(a, period, modulus))
        accuracies, legible = [], []
        for seed in range(args.seeds):
            latents = synthesize_latents(new_a, new_b, args.length, seed=seed)
            images = from_pixel_range(decode_in_batches(model, latents), model.pixel_range)
            digits, confidence = classify_digits(classifier, images[0])
            accuracies.append(transition_accuracy(digits, cycle))
            legible.append(float(np.mean(confidence > 0.9)))
        label = f"{abs(cycle_eigenvalue(a, period)):.4f} (learned)" if modulus is None \
            else f"{modulus}"
        result["accuracy_by_modulus"][label] = {"transition_accuracy": float(np.mean(accuracies)),
                                                "legible_fraction": float(np.mean(legible))}
        print(f"{label:>14} {np.mean(accuracies):15.3f} {np.mean(legible):8.3f}")
    radii = [float(r) for r in args.radii.split(",")]
    result["accuracy_by_radius"] = accuracy_by_radius(model, a, period, cycle, classifier, radii,
                                                      args.seeds, args.length)
    print(f"\n{'start radius':>14} {'transition acc':>15} {'worst seed':>11}  (modulus 0.999)")
    for radius, row in result["accuracy_by_radius"].items():
        print(f"{radius:>14} {row['transition_accuracy']:15.3f} {row['worst_seed']:11.3f}")
    atomic_write_text(args.run / "cycle_plane.json", json.dumps(result, indent=2))
    print(f"wrote {args.run / 'cycle_plane.json'}")


if __name__ == "__main__":
    main()
