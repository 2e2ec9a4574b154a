"""The state of one model version, in TF Serving's terms."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class VersionStatus:
    """State of one version, in TF Serving's terms, plus the load error.

    Args:
        version: the integer version.
        state: `AVAILABLE` (loaded, serving) or `END` (failed to load for good).
        error: why the load failed, empty when it did not.

    Example:
    >>> VersionStatus(2, "END", "OSError: saved_model.pb is truncated")
    """

    version: int
    state: str
    error: str = ""
