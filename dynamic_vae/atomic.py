"""Atomic writing of files and directories: write under a temporary name, then rename.

A rename within one directory is atomic on POSIX file systems, so a reader (another process,
a polling server, a resumed run) sees either the old complete file or folder or the new
complete one, and a write that fails or is killed leaves nothing under the final name. The
temporary names start with a dot, so tools that list a folder's visible entries skip them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_tree(path: Path) -> None:
    """Flushes every file under `path`, so a rename never publishes data still in the page
    cache (this matters on power loss, not when the process is killed)."""
    for child in path.rglob("*"):
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yields a temporary file path beside `path` that replaces `path` when the block succeeds.

    If the block raises, the temporary file is deleted and `path` is left as it was.

    Args:
        path: the file to write.
        suffix: the temporary file's ending (default: `path`'s), for writers that choose the
            format by the ending or append their own (`np.save` adds `.npy` to other names).

    Yields:
        The temporary path to write to.

    Example:
    >>> with atomic_path("run/model.keras") as tmp:   # doctest: +SKIP
    ...     model.save(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=suffix if suffix is not None else path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would survive the rename
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Writes `data` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Writes `text` (UTF-8) to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Saves `array` as a `.npy` file atomically, without pickling."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array, allow_pickle=False)


@contextlib.contextmanager
def staging_directory(parent: str | Path, prefix: str) -> Iterator[Path]:
    """Yields a new empty directory `parent/.PREFIX...` for the caller to fill and rename.

    Whatever is still there when the block ends (it failed, or the caller did not rename the
    directory away) is removed.

    Args:
        parent: where the directory is made (the rename target's folder, so the rename stays
            within one file system).
        prefix: the start of its name, after the leading dot.

    Yields:
        The directory's path.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{prefix}"))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would survive the rename
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yields an empty temporary directory beside `target` that replaces `target` when the
    block succeeds (and is removed when it fails).

    Args:
        target: the directory to write; an existing one is replaced as a whole.
        durable: flush every file to disk before the rename (for state that must survive a
            power loss, such as training backups).

    Yields:
        The temporary directory to write into.

    Example:
    >>> with atomic_directory("run/evaluation") as out:   # doctest: +SKIP
    ...     atomic_write_text(out / "report.md", report)
    """
    target = Path(target)
    with staging_directory(target.parent, f"{target.name}.tmp-") as tmp:
        yield tmp
        if durable:
            _fsync_tree(tmp)
        if not target.exists():
            tmp.rename(target)
            return
        # Move the old directory aside first: rename cannot replace a non-empty directory.
        with staging_directory(target.parent, f"{target.name}.old-") as old:
            target.rename(old / target.name)
            tmp.rename(target)
