"""Per-frame conversions shared by every loader: colour, crop, resize, output dtype.

Frames arrive as `(T, H, W, C)` uint8 (0..255) or float (0..1) with C in {1, 3}; they leave in
the requested colour mode, crop, size and dtype. Everything is done in chunks so a long video at
full resolution never exists as one float array.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.video_load_error import VideoLoadError

# ITU-R BT.601 luma, the weights Pillow's "L" conversion uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
CHUNK_FRAMES = 32


def crop_window(height: int, width: int, options: FrameOptions,
                name: str) -> tuple[int, int, int, int]:
    """`(top, left, height, width)` of the crop of a `height x width` frame."""
    if isinstance(options.crop, tuple):
        top, left, crop_h, crop_w = options.crop
        if top + crop_h > height or left + crop_w > width:
            raise VideoLoadError(f"{name}: crop (top {top}, left {left}, height {crop_h}, width "
                                 f"{crop_w}) does not fit frames of {height}x{width}")
        return options.crop
    if options.crop == "none" or options.size is None:
        return 0, 0, height, width
    out_h, out_w = options.size
    # Compare aspect ratios exactly with integers: width / height vs out_w / out_h.
    if width * out_h > out_w * height:
        crop_w = max(1, round(height * out_w / out_h))
        return 0, (width - crop_w) // 2, height, crop_w
    crop_h = max(1, round(width * out_h / out_w))
    return (height - crop_h) // 2, 0, crop_h, width


def _to_unit_float(frames: np.ndarray) -> np.ndarray:
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / np.float32(255.0)
    return frames.astype(np.float32)


def transform_chunk(frames: np.ndarray, options: FrameOptions, name: str) -> np.ndarray:
    """Crop, colour, resize and cast one chunk `(T, H, W, C)` of uint8 or unit-float frames."""
    top, left, crop_h, crop_w = crop_window(frames.shape[1], frames.shape[2], options, name)
    frames = frames[:, top:top + crop_h, left:left + crop_w]
    channels = frames.shape[-1]
    needs_float = (options.size is not None and options.size != (crop_h, crop_w)) or (
        options.color == "gray" and channels == 3) or frames.dtype != np.uint8 or (
        options.dtype == "float32")
    if not needs_float:
        out = frames
        if options.color == "rgb" and channels == 1:
            out = np.repeat(out, 3, axis=-1)
        return np.ascontiguousarray(out)
    unit = _to_unit_float(frames)
    if options.color == "gray" and channels == 3:
        unit = (unit @ LUMA_WEIGHTS)[..., np.newaxis]
    elif options.color == "rgb" and channels == 1:
        unit = np.repeat(unit, 3, axis=-1)
    if options.size is not None and options.size != (crop_h, crop_w):
        import tensorflow as tf

        # Antialiasing makes downscaling average over the source pixels instead of sampling.
        unit = tf.image.resize(unit, options.size, method="bilinear", antialias=True).numpy()
    unit = np.clip(unit, 0.0, 1.0)
    if options.dtype == "uint8":
        return np.round(unit * 255.0).astype(np.uint8)
    return unit.astype(np.float32)


def _check_unit_range(frame: np.ndarray, name: str) -> None:
    if not np.isfinite(frame).all():
        raise VideoLoadError(f"{name}: holds NaN or inf values")
    low, high = float(frame.min()), float(frame.max())
    if low < 0.0 or high > 1.0:
        raise VideoLoadError(f"{name}: float frames must lie in [0, 1], got values in "
                             f"[{low:g}, {high:g}]")


def transform_stream(frames: Iterable[np.ndarray], options: FrameOptions,
                     name: str) -> np.ndarray:
    """Selects (stride, max_frames) and transforms a stream of `(H, W, C)` frames.

    Raises:
        VideoLoadError: naming `name` when the stream is empty or frame shapes change.
    """
    chunks, pending, first_shape = [], [], None
    for index, frame in enumerate(options.select(frames)):
        if first_shape is None:
            first_shape, first_dtype = frame.shape, frame.dtype
        elif frame.shape != first_shape or frame.dtype != first_dtype:
            raise VideoLoadError(f"{name}: frame {index * options.stride} is {frame.dtype} "
                                 f"{frame.shape}, the first frame {first_dtype} {first_shape}; "
                                 "all frames of one sequence must have the same size, "
                                 "channels and dtype")
        if frame.dtype != np.uint8:
            _check_unit_range(frame, f"{name}: frame {index * options.stride}")
        pending.append(frame)
        if len(pending) == CHUNK_FRAMES:
            chunks.append(transform_chunk(np.stack(pending), options, name))
            pending = []
    if pending:
        chunks.append(transform_chunk(np.stack(pending), options, name))
    if not chunks:
        raise VideoLoadError(f"{name}: holds no frames")
    return np.concatenate(chunks)
