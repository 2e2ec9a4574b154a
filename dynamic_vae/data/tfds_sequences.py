"""Frame sequences from the project's prepared TFDS data sets, into the frame-pair pipeline.

Example:

    pairs = tfds_frame_pairs("dynamic_textures/gray48", data_dir="/data/tfds")
    dataset = pairs.dataset(batch_size=16)      # (16, 2, 48, 48, 1) training pairs
"""

from __future__ import annotations

import os

import numpy as np

from dynamic_vae.data.frame_pairs import FramePairs, make_frame_pairs, validate_frames
from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.frame_transforms import transform_stream


def load_tfds_sequences(name: str, data_dir: str | os.PathLike | None = None,
                        split: str = "train", color: str | None = None,
                        size: int | tuple[int, int] | None = None,
                        crop: str | tuple[int, int, int, int] = "center", stride: int = 1,
                        max_frames: int | None = None, dtype: str = "uint8"
                        ) -> list[np.ndarray]:
    """The frame sequences `(T, H, W, C)` of a prepared TFDS data set, one per example.

    Args:
        name: "NAME/CONFIG", e.g. "dynamic_textures/gray48" (any prepared TFDS data set with a
            `frames` video feature works; the project's builders are registered here).
        data_dir: the TFDS data directory ($TFDS_DATA_DIR or ~/tensorflow_datasets if None).
        split: the split to read.
        color, size, crop, stride, max_frames, dtype: as for `load_video`, per sequence.

    Raises:
        FileNotFoundError: when the data set is not prepared in `data_dir` (nothing is
            downloaded).
        ValueError: for an unknown split or a data set without a `frames` feature.
    """
    import tensorflow_datasets as tfds

    import dynamic_vae.datasets  # noqa: F401  (registers the builders)
    from dynamic_vae.data.tfds_offline import prepared_builder

    builder = prepared_builder(name, None if data_dir is None else str(data_dir))
    if split not in builder.info.splits:
        raise ValueError(f"--split {split!r}: {name} has splits {sorted(builder.info.splits)}")
    if "frames" not in builder.info.features:
        raise ValueError(f"{name}: has no 'frames' feature (features: "
                         f"{sorted(builder.info.features)})")
    options = FrameOptions(color=color, size=size, crop=crop, stride=stride,
                           max_frames=max_frames, dtype=dtype)
    sequences = []
    for index, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split,
                                                                     shuffle_files=False))):
        label = f"{name}[{split}] example {index}"
        frames = transform_stream(iter(example["frames"]), options, label)
        sequences.append(validate_frames(frames, name=label))
    if not sequences:
        raise ValueError(f"{name}: split {split!r} holds no examples")
    return sequences


def tfds_frame_pairs(name: str, data_dir: str | os.PathLike | None = None,
                     split: str = "train", pixel_range: tuple[float, float] = (0.0, 1.0),
                     holdout: int | None = -1, **options) -> FramePairs:
    """`make_frame_pairs` over every sequence of a prepared TFDS data set (pairs never
    straddle two sequences); `options` go to `load_tfds_sequences`."""
    return make_frame_pairs(load_tfds_sequences(name, data_dir, split, **options),
                            pixel_range=pixel_range, holdout=holdout)


__all__ = ["load_tfds_sequences", "tfds_frame_pairs"]
