"""Folders of frame images (.png, .jpg, .pgm, .bmp, ...), read in natural sort order.

Natural order puts frame2.png before frame10.png, as a person numbering frames meant it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dynamic_vae.data.video_load_error import VideoLoadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm", ".bmp", ".tif", ".tiff")
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that compares runs of digits as numbers: 'f2' < 'f10'; ties fall back to the
    plain name so the order is total."""
    parts = _DIGITS.split(name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts), name


def image_files(folder: Path) -> list[Path]:
    """The frame images directly inside `folder`, in natural order (hidden files ignored)."""
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path) -> np.ndarray:
    """One image as `(H, W, 1)` or `(H, W, 3)`: uint8, or float32 in [0, 1] for 16-bit and
    float images (alpha is dropped, palettes are expanded).

    Raises:
        VideoLoadError: naming the file when it is empty, truncated or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size == 0:
        raise VideoLoadError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as image:
            image.load()  # decodes now, so a truncated file fails here with Pillow's reason
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float64)
                top = 65535.0 if mode.startswith("I;16") else max(65535.0, float(array.max()))
                return (np.clip(array, 0, top) / top).astype(np.float32)[..., np.newaxis]
            if mode == "F":
                array = np.asarray(image, dtype=np.float32)
                return array[..., np.newaxis]
            if mode in ("1", "L", "LA"):
                return np.asarray(image.convert("L"))[..., np.newaxis]
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise VideoLoadError(f"{path}: cannot read it as an image ({error})") from None


def iter_folder_frames(folder: Path) -> Iterator[np.ndarray]:
    """The frames of a folder of images, in natural order.

    Raises:
        VideoLoadError: naming the folder when it holds no images, or the bad image.
    """
    files = image_files(folder)
    if not files:
        raise VideoLoadError(f"{folder}: no frame images ({', '.join(IMAGE_SUFFIXES)}) in "
                             "this folder")
    for path in files:
        yield read_image(path)
