"""One entry point for every frame source: video files, frame folders, numpy arrays, and
folders of sequences (the UCLA-50 layout).

Example:

    from dynamic_vae.data import load_video, load_sequences

    clip = load_video("dyntex/boiling_water.avi", color="gray", size=48)   # (250, 48, 48, 1)
    textures = load_sequences("ucla50/", color="gray", size=48)            # {name: frames}
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dynamic_vae.data.frame_folders import (IMAGE_SUFFIXES, image_files, iter_folder_frames,
                                            natural_key)
from dynamic_vae.data.frame_pairs import validate_frames
from dynamic_vae.data.frame_options import FrameOptions
from dynamic_vae.data.frame_transforms import transform_stream
from dynamic_vae.data.numpy_frames import NUMPY_SUFFIXES, read_array, split_sequences
from dynamic_vae.data.video_files import VIDEO_SUFFIXES, iter_video_frames
from dynamic_vae.data.video_load_error import VideoLoadError

SUPPORTED_SUFFIXES = VIDEO_SUFFIXES + NUMPY_SUFFIXES


def _options(color, size, crop, stride, max_frames, dtype) -> FrameOptions:
    return FrameOptions(color=color, size=size, crop=crop, stride=stride,
                        max_frames=max_frames, dtype=dtype)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return path


def _load_one(path: Path, options: FrameOptions) -> np.ndarray:
    """A single sequence from a video file, a frame folder, or a single-sequence array."""
    name = str(path)
    if path.is_dir():
        frames = transform_stream(iter_folder_frames(path), options, name)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        # The frame-count check needs the whole file, so only when nothing is cut off.
        frames = transform_stream(
            iter_video_frames(path, check_count=options.max_frames is None), options, name)
    elif path.suffix.lower() in NUMPY_SUFFIXES:
        sequences = split_sequences(read_array(path), name)
        if len(sequences) != 1:
            raise VideoLoadError(f"{name}: holds {len(sequences)} sequences; load_video reads "
                                 "one, use load_sequences for all of them")
        frames = transform_stream(iter(sequences[0]), options, name)
    else:
        raise VideoLoadError(f"{name}: unsupported file type '{path.suffix or '(none)'}'; "
                             f"expected a video ({', '.join(VIDEO_SUFFIXES)}), a numpy array "
                             f"({', '.join(NUMPY_SUFFIXES)}) or a folder of frame images "
                             f"({', '.join(IMAGE_SUFFIXES)})")
    try:
        return validate_frames(frames, name=name)
    except ValueError as error:
        raise VideoLoadError(str(error)) from None


def load_video(path: str | os.PathLike, color: str | None = None,
               size: int | tuple[int, int] | None = None,
               crop: str | tuple[int, int, int, int] = "center", stride: int = 1,
               max_frames: int | None = None, dtype: str = "uint8") -> np.ndarray:
    """Loads one frame sequence as `(T, H, W, C)`, ready for `make_frame_pairs`.

    Args:
        path: a video file (.avi, .mp4, .mov, .mkv, .webm, .mpg, .gif), a folder of frame
            images (.png, .jpg, .pgm, .bmp, .tif; natural sort order), or a .npy/.npz array
            `(T, H, W[, C])` (uint8, or float in [0, 1]; never unpickled).
        color: "gray", "rgb", or None to keep the source's channels.
        size: output `(height, width)` or one int for square frames; None keeps the size.
        crop: "center" (largest centred window with the output's aspect ratio), "none"
            (squash the whole frame), or `(top, left, height, width)` in source pixels.
        stride: keep every `stride`-th frame.
        max_frames: keep at most this many frames after the stride (decoding stops there).
        dtype: "uint8" (0..255) or "float32" (0..1).

    Returns:
        The frames, shaped and typed as `validate_frames` accepts (at least 2 frames).

    Raises:
        FileNotFoundError: when `path` does not exist.
        VideoLoadError (a ValueError): naming the file when it is empty, truncated, corrupt,
            unsupported, or yields fewer than 2 frames.
    """
    return _load_one(_existing(path), _options(color, size, crop, stride, max_frames, dtype))


def sequence_sources(root: Path) -> list[Path]:
    """Every sequence under a folder, in natural order: each folder holding frame images and
    each video or array file (recursively; hidden entries are skipped)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted((d for d in subfolders if not d.startswith(".")), key=natural_key)
        folder = Path(folder)
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files):
            found.append(folder)
        found.extend(folder / f for f in files
                     if Path(f).suffix.lower() in SUPPORTED_SUFFIXES and not f.startswith("."))
    return sorted(found, key=lambda p: tuple(natural_key(part)
                                             for part in p.relative_to(root).parts))


def load_sequences(path: str | os.PathLike, color: str | None = None,
                   size: int | tuple[int, int] | None = None,
                   crop: str | tuple[int, int, int, int] = "center", stride: int = 1,
                   max_frames: int | None = None, dtype: str = "uint8"
                   ) -> dict[str, np.ndarray]:
    """Loads every sequence of a source as `{name: (T, H, W, C)}`, in natural order.

    `path` may be a folder of sequences (UCLA-50 layout: one folder of frame images per
    sequence; video and array files there count as sequences too, at any depth), a frame
    folder or video file (one sequence), or an array holding `(N, T, H, W[, C])` sequences
    (e.g. COIL-20's objects). Names are paths relative to `path` (or `name[i]` for arrays).
    The other arguments are those of `load_video` and apply to each sequence.

    Raises:
        FileNotFoundError: when `path` does not exist.
        VideoLoadError: naming the file or folder that fails, or when nothing is found.
    """
    path = _existing(path)
    options = _options(color, size, crop, stride, max_frames, dtype)
    if path.is_file() and path.suffix.lower() in NUMPY_SUFFIXES:
        sequences = split_sequences(read_array(path), str(path))
        result = {}
        for index, sequence in enumerate(sequences):
            name = f"{path.stem}[{index}]" if len(sequences) > 1 else path.stem
            frames = transform_stream(iter(sequence), options, f"{path} sequence {index}")
            try:
                result[name] = validate_frames(frames, name=f"{path} sequence {index}")
            except ValueError as error:
                raise VideoLoadError(str(error)) from None
        return result
    if path.is_file() or image_files(path):
        return {path.stem if path.is_file() else path.name: _load_one(path, options)}
    sources = sequence_sources(path)
    if not sources:
        raise VideoLoadError(f"{path}: no sequences found (expected frame folders, videos "
                             f"({', '.join(VIDEO_SUFFIXES)}) or arrays "
                             f"({', '.join(NUMPY_SUFFIXES)}))")
    # Names keep the file endings: clip.avi and clip.gif are two sequences.
    return {str(source.relative_to(path)): _load_one(source, options) for source in sources}
