"""Which frames of a clip are missing: from indices, a boolean mask, or blank frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def missing_mask(length: int, missing: np.ndarray | Sequence[int] | None = None,
                 frames: np.ndarray | None = None, name: str = "missing") -> np.ndarray:
    """A bool mask `(length,)`, true where a frame is missing.

    Args:
        length: frames in the clip.
        missing: a bool array `(length,)` (true = missing), or a sequence of frame indices
            (negative ones count from the end); `None` marks the blank (all-zero) frames of
            `frames` as missing.
        frames: the clip, used when `missing` is `None`.
        name: what errors call the argument.

    Raises:
        ValueError: on a wrong shape, dtype or out-of-range index, or when every frame is
            missing.
    """
    if missing is None:
        if frames is None:
            raise ValueError(f"{name}: give a mask, indices or frames with blank frames")
        mask = ~np.asarray(frames).reshape(length, -1).any(axis=1)
    else:
        array = np.asarray(missing)
        if array.dtype == bool:
            if array.shape != (length,):
                raise ValueError(f"{name}: a boolean mask must have shape ({length},) (one "
                                 f"entry per frame), got {array.shape}")
            mask = array.copy()
        elif array.size == 0 or np.issubdtype(array.dtype, np.integer):
            indices = array.reshape(-1).astype(np.int64)
            if array.ndim > 1:
                raise ValueError(f"{name}: expected a 1-D list of frame indices, got shape "
                                 f"{array.shape}")
            bad = indices[(indices < -length) | (indices >= length)]
            if bad.size:
                raise ValueError(f"{name}: frame index {int(bad[0])} is out of range for a clip "
                                 f"of {length} frames (valid: {-length} .. {length - 1})")
            mask = np.zeros(length, bool)
            mask[indices] = True
        else:
            raise ValueError(f"{name}: expected a bool mask or integer frame indices, got "
                             f"dtype {array.dtype}")
    if mask.all():
        raise ValueError(f"{name}: all {length} frames are missing; at least one must be "
                         "observed")
    return mask


def parse_indices(text: str, name: str = "--missing") -> list[int]:
    """'3,5,8-10' -> [3, 5, 8, 9, 10]."""
    indices: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                start, stop = part.split("-", 1) if part[0] != "-" else (None, None)
                if start is None:
                    raise ValueError
                indices.extend(range(int(start), int(stop) + 1))
            else:
                indices.append(int(part))
        except ValueError:
            raise ValueError(f"{name}: expected comma-separated frame indices or ranges such "
                             f"as '3,5,8-10', got {text!r}") from None
    return indices
