"""Where an experiment reads its data from: a flag, else the `DYNAMIC_VAE_DATA` variable.

The package names no data folder of its own: the clips and objects the experiments use are
the user's, wherever they keep them (see docs/data.md).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DYNAMIC_VAE_DATA"


def data_folder(given: str | Path | None, flag: str) -> Path:
    """The data folder: `given` (a flag's value) when set, else `$DYNAMIC_VAE_DATA`.

    Args:
        given: the flag's value, or `None` when the flag was left out.
        flag: the flag's name, for the error.

    Returns:
        The folder.

    Raises:
        ValueError: naming `flag` and `DYNAMIC_VAE_DATA` when neither is set.

    Example:
    >>> data_folder("/data/textures", "--data-dir")
    PosixPath('/data/textures')
    """
    if given is not None:
        return Path(given)
    from_environment = os.environ.get(DATA_ENV)
    if from_environment:
        return Path(from_environment)
    raise ValueError(f"{flag}: no data folder given; pass {flag} or set the environment "
                     f"variable {DATA_ENV} to the folder holding the data")
