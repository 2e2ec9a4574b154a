"""Output files of the commands that write frames: the format check and the writers.

A file's format is its ending (`dynamic_vae.outputs.FORMATS`); it is checked before anything
slow runs, so a typo costs nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUTPUT_HELP = "output file: .npy (uint8 array (T, H, W, C)), .png (grid), .gif or .mp4"


def check_output_path(path: Path, flag: str = "--out") -> None:
    """Raises ValueError, naming `flag`, the file and the formats, unless `path` ends in a
    format the writers know."""
    from dynamic_vae.outputs import check_output_format

    check_output_format(path, flag)


def write_output(args: argparse.Namespace, path: Path, frames: np.ndarray,
                 columns: int = 20) -> None:
    """Writes `frames` `(T, H, W, C)` to `path` with the command's --fps and --scale."""
    from dynamic_vae.outputs import write_frames

    write_frames(path, frames, fps=args.fps, scale=args.scale, columns=columns)


def write_samples(args: argparse.Namespace, samples: np.ndarray) -> None:
    """Sampled futures `(S, K, H, W, C)` to --samples-out: the array as .npy, else one row of
    K frames per sample."""
    from dynamic_vae.atomic import atomic_path

    if args.samples_out.suffix.lower() == ".npy":
        with atomic_path(args.samples_out) as tmp:
            np.save(tmp, samples)
    else:
        write_output(args, args.samples_out, samples.reshape(-1, *samples.shape[2:]),
                     columns=args.steps)


def as_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as uint8 0..255 for writing; float frames are taken to lie in [0, 1]."""
    from dynamic_vae.pixels import from_pixel_range

    return frames if frames.dtype.name == "uint8" else from_pixel_range(frames, (0.0, 1.0))
