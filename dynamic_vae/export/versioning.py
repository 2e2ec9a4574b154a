"""TF Serving's model folder layout: `base_dir/NAME/<integer version>/`, written atomically."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from dynamic_vae.atomic import staging_directory


def existing_versions(model_dir: str | Path) -> list[int]:
    """The integer version folders of `model_dir`, ascending (other names are ignored, as TF
    Serving ignores them)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir()
                  if p.is_dir() and p.name.isdigit() and int(p.name) > 0)


def next_version(model_dir: str | Path) -> int:
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def write_version(model_dir: str | Path, write: Callable[[Path], None]) -> Path:
    """Runs `write(folder)` on a temporary folder beside the versions, then renames it to the
    next version number and returns that path.

    A server polling `model_dir` sees either no new version or a complete one: the temporary
    name starts with a dot and is not an integer, so TF Serving skips it. If `write` fails the
    folder is removed and no version number is used up. Two exports racing for one number:
    renaming onto an existing non-empty folder fails, and the loser takes the next number.
    """
    model_dir = Path(model_dir)
    with staging_directory(model_dir, "export-") as tmp:
        write(tmp)
        for _ in range(1000):
            target = model_dir / str(next_version(model_dir))
            try:
                os.rename(tmp, target)
                return target
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        raise OSError(f"{model_dir}: could not claim a free version number")
