"""Where a command's frames come from.

The options that choose the frames a command trains on: any supported file or folder
(`--frames`) or a prepared TFDS data set (`--dataset NAME/CONFIG`), plus the loader's
conversions (colour, size, crop, stride, max frames); and the reader of the one `.npy`/`.npz`
array a flag names (a clip, a frame pair, a mask).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected N or HxW with positive ints, got {text!r}")
    return values


def _crop(text: str) -> str | tuple[int, int, int, int]:
    if text in ("center", "centre", "none"):
        return "center" if text == "centre" else text
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(
            f"expected center, none or TOP,LEFT,HEIGHT,WIDTH, got {text!r}")
    return values


def add_frame_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the frame-source group (--frames, --dataset and the loader options) to `parser`."""
    group = parser.add_argument_group(
        "frames", "What to train on (default: counting MNIST). Loader options apply to both "
                  "--frames and --dataset.")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--frames", type=Path,
                        help="a video (.avi/.mp4/.mov/.mkv/.webm/.mpg/.gif), a folder of frame "
                             "images (.png/.jpg/.pgm/.bmp), a .npy/.npz array (T, H, W[, C]) "
                             "or (N, T, H, W[, C]), or a folder of sequences (UCLA-50 layout)")
    source.add_argument("--dataset", metavar="NAME/CONFIG",
                        help="a prepared TFDS data set, e.g. dynamic_textures/gray48, "
                             "object_rotation/coil20, counting_mnist/cycle_1234")
    group.add_argument("--data-dir", type=Path, default=None,
                       help="TFDS data directory for --dataset (default $TFDS_DATA_DIR or "
                            "~/tensorflow_datasets)")
    group.add_argument("--split", default="train", help="TFDS split for --dataset")
    color = group.add_mutually_exclusive_group()
    color.add_argument("--grayscale", "--gray", dest="color", action="store_const",
                       const="gray", help="convert frames to one gray channel")
    color.add_argument("--rgb", dest="color", action="store_const", const="rgb",
                       help="convert frames to three RGB channels")
    group.add_argument("--size", type=_size, default=None, metavar="N|HxW",
                       help="resize frames to N x N or H x W")
    group.add_argument("--crop", type=_crop, default="center",
                       metavar="center|none|TOP,LEFT,HEIGHT,WIDTH",
                       help="center (default): largest centred window with the output's "
                            "aspect ratio; none: squash; or an explicit window")
    group.add_argument("--stride", type=int, default=1, help="keep every STRIDE-th frame")
    group.add_argument("--max-frames", type=int, default=None,
                       help="keep at most this many frames per sequence (after the stride)")


def frame_loader_options(args: argparse.Namespace) -> dict[str, object]:
    """The loader options of `args` as JSON values (`dynamic_vae.data.load_sequences`
    keyword arguments)."""
    return {"color": args.color, "size": None if args.size is None else list(args.size),
            "crop": args.crop if isinstance(args.crop, str) else list(args.crop),
            "stride": args.stride, "max_frames": args.max_frames}


def load_frame_source(args: argparse.Namespace
                      ) -> tuple[np.ndarray | list[np.ndarray] | None, str | None]:
    """The frames `args` ask for (one array, a list of sequences, or None for the default
    source) and a description of where they came from.

    Raises:
        FileNotFoundError, ValueError: naming the flag and file when the source is unusable.
    """
    options = frame_loader_options(args)
    if args.frames is not None:
        from dynamic_vae.data import load_sequences

        try:
            sequences = list(load_sequences(args.frames, **options).values())
        except (ValueError, FileNotFoundError) as error:
            raise type(error)(f"--frames {error}") from None
        frames = sequences[0] if len(sequences) == 1 else sequences
        return frames, str(args.frames)
    if args.dataset is not None:
        from dynamic_vae.data.tfds_sequences import load_tfds_sequences

        sequences = load_tfds_sequences(args.dataset, data_dir=args.data_dir,
                                        split=args.split, **options)
        return sequences, f"tfds:{args.dataset}[{args.split}]"
    return None, None


def load_single_sequence(args: argparse.Namespace) -> tuple[np.ndarray | None, str | None]:
    """Like `load_frame_source`, for commands that fit one sequence (the linear baseline).

    Raises:
        ValueError: when the source holds several sequences.
    """
    frames, source = load_frame_source(args)
    if isinstance(frames, list):
        raise ValueError(f"{source}: holds {len(frames)} sequences; this command fits one "
                         "(pass one video, frame folder or array)")
    return frames, source


def frame_shape_of(frames: np.ndarray | list[np.ndarray]) -> tuple[int, int, int]:
    """`(H, W, C)` of loaded frames (all sequences share it)."""
    first = frames[0] if isinstance(frames, list) else frames[0:1]
    return tuple(int(v) for v in np.asarray(first).shape[-3:])


def load_frames_file(path: Path, flag: str = "--frames") -> np.ndarray:
    """The array in the `.npy`/`.npz` file given to `flag`: its only array, or its 'frames'.

    Any dtype is returned (frames, frame pairs and bool masks all come this way); the caller
    checks what it needs. Nothing is unpickled.

    Raises:
        FileNotFoundError, ValueError: naming `flag` and the file.
    """
    from dynamic_vae.data.numpy_frames import read_array

    try:
        return read_array(path, dtypes=None)
    except (FileNotFoundError, ValueError) as error:
        raise type(error)(f"{flag} {error}") from None
