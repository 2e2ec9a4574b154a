"""Frame arrays stored with numpy (.npy, .npz), read without unpickling anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamic_vae.data.frame_pairs import SUPPORTED_DTYPES
from dynamic_vae.data.video_load_error import VideoLoadError

NUMPY_SUFFIXES = (".npy", ".npz")


def read_array(path: str | Path, key: str | None = None,
               dtypes: tuple[str, ...] | None = SUPPORTED_DTYPES) -> np.ndarray:
    """The array of a `.npy` file, or of a `.npz` file: `key`, else its only array, else the
    one named 'frames'.

    Args:
        path: a `.npy` or `.npz` file.
        key: the `.npz` member to read.
        dtypes: the dtype names the array may have; `None` accepts any (e.g. a bool mask).

    Returns:
        The array, as stored.

    Raises:
        FileNotFoundError: when `path` is not a file.
        VideoLoadError: naming the file when it is not a .npy/.npz file, is empty, truncated or
            pickled, is an .npz without a single/'frames' array, or has a dtype not in `dtypes`.

    Example:

    >>> frames = read_array(Path("clip.npz"))  # its only array, or its 'frames'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() not in NUMPY_SUFFIXES:
        raise VideoLoadError(f"{path}: expected a .npy or .npz file, got "
                             f"'{path.suffix or '(no ending)'}'")
    if path.stat().st_size == 0:
        raise VideoLoadError(f"{path}: empty file (0 bytes)")
    try:
        # A file object rather than a path: TFDS's builder tests only allow np.load on those.
        with open(path, "rb") as handle:
            data = np.load(handle, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                keys = list(data.keys())
                if key is None:
                    key = "frames" if "frames" in keys else (keys[0] if len(keys) == 1 else None)
                if key is None or key not in keys:
                    raise VideoLoadError(f"{path}: holds arrays {keys}; expected one array, one "
                                         f"named 'frames'{f', or {key!r}' if key else ''}")
                array = data[key]
            else:
                array = data
    except VideoLoadError:
        raise
    except Exception as error:  # noqa: BLE001
        # np.load raises a zoo of errors on damaged files (zipfile.BadZipFile, EOFError,
        # ValueError for pickles and short reads): all mean "not a readable array file".
        raise VideoLoadError(f"{path}: cannot read it as a numpy array "
                             f"({type(error).__name__}: {error})") from None
    if dtypes is not None and array.dtype.name not in dtypes:
        expected = ("uint8 (0..255) or float (0..1) frames" if dtypes == SUPPORTED_DTYPES
                    else "an array")
        raise VideoLoadError(f"{path}: expected {expected} ({', '.join(dtypes)}), got dtype "
                             f"{array.dtype}")
    return array


def split_sequences(array: np.ndarray, name: str) -> list[np.ndarray]:
    """One frame array into its sequences, each `(T, H, W, C)`.

    `(T, H, W)` and `(T, H, W, C)` with C in {1, 3} are one sequence; `(N, T, H, W)` (last axis
    not 1 or 3, e.g. COIL-20's (14, 72, 32, 32)) and `(N, T, H, W, C)` are N sequences.
    """
    if array.ndim == 3:
        return [array[..., np.newaxis]]
    if array.ndim == 4 and array.shape[-1] in (1, 3):
        return [array]
    if array.ndim == 4:
        return [seq[..., np.newaxis] for seq in array]
    if array.ndim == 5 and array.shape[-1] in (1, 3):
        return list(array)
    raise VideoLoadError(f"{name}: expected frames shaped (T, H, W), (T, H, W, C), (N, T, H, W) "
                         f"or (N, T, H, W, C) with C in (1, 3), got {array.shape}")
