"""The JSON file a bench writes its results to, stamped with the date and the machine.

Bench numbers depend on the machine and the day's load, so every results file records both
in the same form: `"date"` as YYYY-MM-DD and `"machine"` as `{"cpus", "platform",
"processor"}`. Benches run as `python bench/NAME.py`, which puts this folder on `sys.path`:
`from results_file import write_results`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from dynamic_vae.atomic import atomic_write_text


def machine() -> dict[str, Any]:
    """`{"cpus", "platform", "processor"}` of the machine the bench runs on.

    The processor falls back to the architecture (`platform.machine()`) where Python cannot
    name it (on Linux `platform.processor()` is often empty).
    """
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def write_results(path: str | Path, result: dict[str, Any]) -> Path:
    """Writes `result` as indented JSON to `path`, with `"date"` and `"machine"` first unless
    `result` has its own.

    Atomic (`atomic_write_text`): a bench stopped while writing leaves the file as it was, not
    half of a new one. The parent folder is created.

    Args:
        path: the file to write.
        result: the bench's numbers (not changed).

    Returns:
        `path` as a `Path`.
    """
    path = Path(path)
    stamped = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), **result}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stamped, indent=2) + "\n")
    return path
