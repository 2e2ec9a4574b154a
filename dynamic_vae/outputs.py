"""Writing frame sequences to disk: `.npy`, PNG strip/grid, animated GIF, MP4.

Every writer writes to a temporary file in the target's directory and renames it into place
(`dynamic_vae.atomic`), so a reader never sees a half-written file and a failed write leaves
nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamic_vae.atomic import atomic_path

FORMATS = (".npy", ".png", ".gif", ".mp4")


def check_output_format(path: str | Path, flag: str = "--out") -> str:
    """The lower-case ending of an output file `write_frames` can write.

    Args:
        path: the output file.
        flag: how the caller names the path in errors (a command-line flag or argument).

    Returns:
        The ending, one of `FORMATS`.

    Raises:
        ValueError: naming `flag`, the path and the formats when the ending is not one of
            them.

    Example:
    >>> check_output_format("out/sequence.GIF")
    '.gif'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{flag} {path}: unsupported format '{path.suffix or '(none)'}'; "
                         f"expected one of {', '.join(FORMATS)}")
    return suffix


def _as_uint8_frames(frames: np.ndarray) -> np.ndarray:
    """`(T, H, W[, C])` uint8 or float in [0, 1] -> `(T, H, W, C)` uint8."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., np.newaxis]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3) or len(frames) == 0:
        raise ValueError(f"frames: expected shape (T, H, W[, C]) with T >= 1 and C in (1, 3), "
                         f"got {frames.shape}")
    if frames.dtype != np.uint8:
        frames = np.round(np.clip(frames.astype(np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    return frames


def tile_frames(frames: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """Frames `(T, H, W, C)` tiled into one image `(rows*(H+gap)-gap, cols*(W+gap)-gap, C)`."""
    frames = _as_uint8_frames(frames)
    count, height, width, channels = frames.shape
    columns = columns or count
    rows = -(-count // columns)
    image = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels), 255,
                    dtype=np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        image[r * (height + gap):r * (height + gap) + height,
              c * (width + gap):c * (width + gap) + width] = frame
    return image


def _frame_images(frames: np.ndarray) -> np.ndarray:
    frames = _as_uint8_frames(frames)
    return frames[..., 0] if frames.shape[-1] == 1 else frames


def write_frames(path: str | Path, frames: np.ndarray, fps: int = 10, columns: int = 20,
                 scale: int = 1) -> Path:
    """Writes frames `(T, H, W[, C])` in the format given by the file ending.

    `.npy` keeps the array as given (uint8 or float); `.png` writes a grid with `columns`
    frames per row; `.gif` and `.mp4` write an animation at `fps`. `scale` enlarges images by
    pixel repetition (PNG, GIF, MP4).
    """
    import imageio.v3 as iio

    path = Path(path)
    suffix = check_output_format(path)
    frames = np.asarray(frames)
    _as_uint8_frames(frames)  # validates the shape for every format
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, frames)
            return path
        images = _as_uint8_frames(frames)
        if scale > 1:
            images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        if suffix == ".png":
            grid = tile_frames(images, columns=min(columns, len(images)))
            iio.imwrite(tmp, grid[..., 0] if grid.shape[-1] == 1 else grid, extension=".png")
        elif suffix == ".gif":
            iio.imwrite(tmp, _frame_images(images), extension=".gif",
                        duration=1000 / fps, loop=0)
        else:
            # H.264 wants even sides and 3 channels.
            height, width = images.shape[1:3]
            images = np.pad(images, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
            if images.shape[-1] == 1:
                images = np.repeat(images, 3, axis=-1)
            iio.imwrite(tmp, images, extension=".mp4", plugin="FFMPEG", fps=fps,
                        codec="libx264", macro_block_size=1)
    return path
