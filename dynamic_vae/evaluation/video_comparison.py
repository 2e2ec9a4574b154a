"""Synthesised videos from any method, scored against one real clip.

Each video gets the appearance metrics (`appearance.sharpness_ratio`,
`appearance.spectrum_distance`), the dynamics metric (`martin_distance.clip_martin_distance`)
and the stability ratios (`stability.stability_metrics`). All of them are numpy, so videos
from other methods can be compared without a trained model.

The videos may have other lengths than the real clip, but they must have its frame shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynamic_vae.evaluation.appearance import sharpness_ratio, spectrum_distance
from dynamic_vae.evaluation.martin_distance import clip_martin_distance
from dynamic_vae.evaluation.run_evaluation import unit_frames
from dynamic_vae.evaluation.stability import stability_metrics


def _check_length(frames: np.ndarray, name: str, latent_dim: int) -> None:
    # The Martin distance fits a linear dynamic texture to each clip, which needs more frames
    # than states.
    if len(frames) <= latent_dim:
        raise ValueError(f"{name}: the Martin distance with latent_dim={latent_dim} needs more "
                         f"than {latent_dim} frames, got {len(frames)}")


def compare_videos(real: np.ndarray, videos: dict[str, np.ndarray],
                   latent_dim: int = 10) -> list[dict[str, Any]]:
    """Scores each video against the real clip.

    Args:
        real: the real frames `(T, H, W[, C])`, uint8 or float in [0, 1].
        videos: `{name: frames}`, each of the real clip's frame shape, any length above
            `latent_dim`.
        latent_dim: the state dimension of the linear dynamic textures the Martin distance
            fits to the real clip and to each video.

    Returns:
        One row per video, in the order of `videos`, with `name`, `frames` (its length),
        `sharpness_ratio` (1: as sharp as the real clip), `spectrum_distance` (0: the same
        spatial power spectrum), `martin_distance` (0: the same linear process), `std_ratio`
        (the per-frame pixel std over the video's last quarter against the real clip's; 1 is
        perfect), `temporal_std_ratio` (each pixel's std over time, the same way; 0: frozen)
        and `alive` (`std_ratio` within 20% of 1).

    Raises:
        ValueError: naming the video (or `real`) that is not frames, has another frame shape
            than the real clip, or has no more than `latent_dim` frames.

    Example:
    >>> compare_videos(real, {"LDS": lds_frames, "GPDM": gpdm_frames})  # doctest: +SKIP
    [{'name': 'LDS', 'frames': 250, 'sharpness_ratio': 0.61, ...}, {'name': 'GPDM', ...}]
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim: expected a positive integer, got {latent_dim}")
    if not videos:
        raise ValueError("videos: expected at least one video to compare, got none")
    real = unit_frames(real, name="real")
    _check_length(real, "real", latent_dim)
    rows = []
    for name, video in videos.items():
        frames = unit_frames(video, name=name)
        if frames.shape[1:] != real.shape[1:]:
            raise ValueError(f"{name}: expected frames of shape {real.shape[1:]} (the real "
                             f"clip's), got {frames.shape[1:]}")
        _check_length(frames, name, latent_dim)
        stability = stability_metrics(frames, real)
        rows.append({
            "name": name,
            "frames": len(frames),
            "sharpness_ratio": sharpness_ratio(real, frames),
            "spectrum_distance": spectrum_distance(real, frames),
            "martin_distance": clip_martin_distance(real, frames, latent_dim=latent_dim),
            "std_ratio": stability["std_ratio"],
            "temporal_std_ratio": stability["temporal_std_ratio"],
            "alive": stability["alive"],
        })
    return rows
