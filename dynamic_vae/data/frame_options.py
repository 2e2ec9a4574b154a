"""How loaded frames are selected and converted (see `frame_transforms`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

COLOR_MODES = ("gray", "rgb")
OUTPUT_DTYPES = ("uint8", "float32")


@dataclasses.dataclass(frozen=True)
class FrameOptions:
    """How loaded frames are converted.

    Args:
        color: "gray" (1 channel), "rgb" (3 channels) or None (keep the source's channels).
        size: output `(height, width)` (an int means square); None keeps the (cropped) size.
        crop: "center" (the largest centred window with the output's aspect ratio; a no-op
            without `size`), "none" (resize the whole frame, changing its aspect ratio), or
            `(top, left, height, width)` in source pixels.
        stride: keep every `stride`-th frame.
        max_frames: keep at most this many frames (after the stride); None keeps all.
        dtype: "uint8" (0..255) or "float32" (0..1), both accepted by `validate_frames`.

    Example:

        options = FrameOptions(color="gray", size=48, stride=2, max_frames=100)
        frames = transform_stream(iter_video_frames(path), options, str(path))

    Raises:
        ValueError: naming the field when a value is out of range.
    """

    color: str | None = None
    size: tuple[int, int] | None = None
    crop: str | tuple[int, int, int, int] = "center"
    stride: int = 1
    max_frames: int | None = None
    dtype: str = "uint8"

    def __post_init__(self) -> None:
        if self.color is not None and self.color not in COLOR_MODES:
            raise ValueError(f"color: expected one of {COLOR_MODES} or None, got {self.color!r}")
        if self.size is not None:
            size = (self.size, self.size) if isinstance(self.size, int) else tuple(self.size)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"size: expected a positive int or (height, width), got "
                                 f"{self.size!r}")
            object.__setattr__(self, "size", tuple(int(v) for v in size))
        if isinstance(self.crop, str):
            if self.crop not in ("center", "none"):
                raise ValueError(f"crop: expected 'center', 'none' or (top, left, height, "
                                 f"width), got {self.crop!r}")
        else:
            crop = tuple(int(v) for v in self.crop)
            if len(crop) != 4 or min(crop[:2]) < 0 or min(crop[2:]) < 1:
                raise ValueError(f"crop: expected (top, left, height, width) with top, left >= 0 "
                                 f"and height, width >= 1, got {self.crop!r}")
            object.__setattr__(self, "crop", crop)
        if self.stride < 1:
            raise ValueError(f"stride: expected >= 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames: expected >= 1 or None, got {self.max_frames}")
        if self.dtype not in OUTPUT_DTYPES:
            raise ValueError(f"dtype: expected one of {OUTPUT_DTYPES}, got {self.dtype!r}")

    def select(self, frames: Iterable) -> Iterator:
        """Applies stride and max_frames to a stream, stopping as soon as enough are read."""
        kept = 0
        for index, frame in enumerate(frames):
            if self.max_frames is not None and kept >= self.max_frames:
                return
            if index % self.stride == 0:
                kept += 1
                yield frame
