"""How far below PCA can an observation map of n states reconstruct a clip's held-out tail?

`experiment textures` compares the Dynamic VAE's held-out reconstruction with PCA's of the
same latent dimension. This bench asks, in closed form and without training, how much room
a nonlinear map has there at all. For each clip (held out as the experiment holds it out:
`split_heldout_tail`) it scores, on the tail:

- **PCA n**: the tail projected on the training frames' n leading principal components (the
  linear map's reconstruction, as `pca_reconstruction_error` computes it);
- **kernel decoder on the PCA code**: PCA n plus a Gaussian-kernel ridge regression from the
  n PCA coordinates of a frame to what PCA leaves out of it, fitted on the training frames,
  its bandwidth and ridge chosen on the training frames' last tenth: the best smooth
  nonlinear decoder of the same n numbers the linear map keeps;
- **PCA 2n**: what twice the states give a linear map;
- **nearest training frame**: the tail frame replaced by the closest training frame, a
  decoder that memorises its training set.

A nonlinear decoder that reads the PCA code can reach the kernel row and no further in
expectation; an encoder that chooses another code can do better only where the tail shares
structure with the training frames that the n leading directions miss.

Usage: python bench/observation_map_bound.py --data-dir DATA [--clips a.avi,b.npy]
           [--color gray] [--size 48] [--latent-dim 10] [--test-fraction 0.2] [--out PATH]
Prints a table and writes the JSON to --out (default bench/results/observation_map_bound.json).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dynamic_vae.data import load_video  # noqa: E402
from dynamic_vae.evaluation.run_evaluation import pca_reconstruction_error  # noqa: E402
from dynamic_vae.experiments.data_folder import data_folder  # noqa: E402
from dynamic_vae.experiments.textures_experiment import (DEFAULT_CLIPS,  # noqa: E402
                                                         clip_name, split_heldout_tail)
from results_file import write_results  # noqa: E402

BANDWIDTHS = (0.05, 0.1, 0.2, 0.4, 0.8)  # fractions of the codes' median pairwise distance
RIDGES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


def gaussian_kernel(a: np.ndarray, b: np.ndarray, bandwidth: float) -> np.ndarray:
    squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return np.exp(-squared / (2.0 * bandwidth ** 2))


def kernel_decoder_error(training: np.ndarray, tail: np.ndarray, components: int
                         ) -> tuple[float, dict[str, float]]:
    """Tail MSE of PCA `components` plus a kernel ridge regression from the PCA code to the
    PCA residual, and the bandwidth fraction and ridge chosen on the training tenth."""
    flat = training.reshape(len(training), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, rows = np.linalg.svd(flat - mean, full_matrices=False)
    basis = rows[:components].T
    codes = (flat - mean) @ basis
    residuals = flat - mean - codes @ basis.T
    median = float(np.median(np.sqrt(((codes[:, None] - codes[None]) ** 2).sum(-1))))
    check = max(len(flat) // 10, 4)
    best = None
    for fraction in BANDWIDTHS:
        fit = gaussian_kernel(codes[:-check], codes[:-check], fraction * median)
        cross = gaussian_kernel(codes[-check:], codes[:-check], fraction * median)
        for ridge in RIDGES:
            weights = np.linalg.solve(fit + ridge * np.eye(len(fit)), residuals[:-check])
            error = float(np.mean((cross @ weights - residuals[-check:]) ** 2))
            if best is None or error < best[0]:
                best = (error, fraction, ridge)
    _, fraction, ridge = best
    weights = np.linalg.solve(gaussian_kernel(codes, codes, fraction * median)
                              + ridge * np.eye(len(codes)), residuals)
    target = tail.reshape(len(tail), -1).astype(np.float64)
    tail_codes = (target - mean) @ basis
    decoded = (mean + tail_codes @ basis.T
               + gaussian_kernel(tail_codes, codes, fraction * median) @ weights)
    return (float(np.mean((decoded - target) ** 2)),
            {"bandwidth_fraction": fraction, "ridge": ridge})


def nearest_frame_error(training: np.ndarray, tail: np.ndarray) -> float:
    """Tail MSE when each tail frame is replaced by its closest training frame."""
    flat = training.reshape(len(training), -1).astype(np.float64)
    target = tail.reshape(len(tail), -1).astype(np.float64)
    # ||y - x||^2 = ||y||^2 - 2 y.x + ||x||^2, without a (tail, training, pixels) array.
    squared = ((target ** 2).sum(1)[:, None] - 2.0 * target @ flat.T
               + (flat ** 2).sum(1)[None])
    return float(np.maximum(squared.min(axis=1), 0.0).mean() / flat.shape[1])


def clip_bounds(path: Path, color: str, size: int, components: int,
                test_fraction: float) -> dict[str, float | int | dict]:
    frames = load_video(path, color=color, size=size).astype(np.float64) / 255.0
    training, tail = split_heldout_tail(frames, test_fraction, path)
    kernel, chosen = kernel_decoder_error(training, tail, components)
    pca = pca_reconstruction_error(training, tail, components)
    return {"training_frames": len(training), "test_frames": len(tail), "pca": pca,
            "kernel_decoder": kernel, "kernel_over_pca": kernel / pca,
            "pca_double": pca_reconstruction_error(training, tail, 2 * components),
            "nearest_training_frame": nearest_frame_error(training, tail), "chosen": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--clips", default=",".join(DEFAULT_CLIPS))
    parser.add_argument("--color", choices=("gray", "rgb"), default="gray")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "observation_map_bound.json")
    args = parser.parse_args()
    if args.latent_dim < 1:
        parser.error(f"--latent-dim must be >= 1, got {args.latent_dim}")
    if not 0 < args.test_fraction < 1:
        parser.error(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    names = [name.strip() for name in args.clips.split(",") if name.strip()]
    folder = None
    if any(not Path(name).is_absolute() for name in names):
        folder = data_folder(args.data_dir, "--data-dir")
    clips = {}
    print(f"{'clip':<16} {'PCA n':>8} {'kernel':>8} {'ratio':>6} {'PCA 2n':>8} "
          f"{'nearest':>8}   (MSE x 1e3 on the held-out tail, n = {args.latent_dim})")
    for name in names:
        path = Path(name) if Path(name).is_absolute() else folder / name
        if not path.exists():
            parser.error(f"--clips: {path} does not exist")
        row = clip_bounds(path, args.color, args.size, args.latent_dim, args.test_fraction)
        clips[clip_name(path)] = row
        print(f"{clip_name(path):<16} {row['pca'] * 1e3:8.3f} {row['kernel_decoder'] * 1e3:8.3f} "
              f"{row['kernel_over_pca']:6.3f} {row['pca_double'] * 1e3:8.3f} "
              f"{row['nearest_training_frame'] * 1e3:8.3f}", flush=True)
    write_results(args.out, {"color": args.color, "size": args.size,
                             "latent_dim": args.latent_dim,
                             "test_fraction": args.test_fraction, "clips": clips})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
