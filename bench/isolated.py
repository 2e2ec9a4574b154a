"""Runs one benchmark case in a fresh Python process so its peak memory is its own.

`ru_maxrss` is a high-water mark of the whole process: measured in one process, every case
after the largest would report the largest case's peak. Each case therefore runs as
`python SCRIPT --child CASE ...`, prints one JSON line, and the parent collects it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(result: dict) -> None:
    """Called in the child: adds the process's peak memory and prints the result line."""
    print("RESULT " + json.dumps({**result, "peak_rss_mib": peak_rss_mib()}), flush=True)


def run_child(script: str, case: str, extra_args: list[str]) -> dict:
    """Called in the parent: runs `script --child case` and returns its result line."""
    completed = subprocess.run([sys.executable, script, "--child", case, *extra_args],
                               capture_output=True, text=True)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"benchmark case {case!r} failed (exit {completed.returncode}):\n"
                       f"{completed.stderr[-3000:]}")


def import_baseline_mib() -> float:
    """Peak memory of a process that only imports TensorFlow and Keras: the floor of every case."""
    code = ("import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='2'; import keras, tensorflow; "
            "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True)
    return float(completed.stdout.strip().splitlines()[-1])
