"""Keeps TensorFlow's start-up log out of the `dynamic-vae` program's output.

TensorFlow's C++ runtime writes its start-up lines (CUDA probing, oneDNN and CPU-feature
banners, absl `I0000 ...` lines) straight to file descriptor 2, some of them before
`TF_CPP_MIN_LOG_LEVEL` is read, so `sys.stderr` and the logging module never see them. The
program therefore routes descriptor 2 through `StderrFilter` before TensorFlow is imported.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import sys
from collections.abc import Callable, Sequence

VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "DYNAMIC_VAE_VERBOSE"

NOISE = re.compile(
    # absl's C++ log line: severity, MMDD hh:mm:ss.micros, thread, file:line]. Fatal (F) lines
    # are kept: they explain the abort that follows.
    r"[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] "
    # TensorFlow's own C++ log line, of builds that do not log through absl.
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler"
    r"|.*failed call to cuInit"
    r"|.*oneDNN custom operations are on")

# What a log line can start like: a partial line that may still become one waits for its end.
NOISE_START = re.compile(r"[IWE]\d|\d{4}-\d|WARNING: All|To enable")


def is_tensorflow_noise(line: str) -> bool:
    """Whether `line` (without its line ending) is one of TensorFlow's log or banner lines.

    Example:

    >>> is_tensorflow_noise("I0000 00:00:1796139492.700790    5217 cudart_stub.cc:31] "
    ...                     "Could not find cuda drivers on your machine")
    True
    """
    return NOISE.match(line) is not None


def verbose_requested(argv: Sequence[str] = ()) -> bool:
    """Whether the user asked to see TensorFlow's log: `--verbose` before the command in
    `argv` (the program's arguments), or the environment variable DYNAMIC_VAE_VERBOSE set to
    1/true/yes/on."""
    if os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes", "on"):
        return True
    for arg in argv:
        if not arg.startswith("-"):
            return False  # the command: what follows are its arguments
        if arg == VERBOSE_FLAG:
            return True
    return False


def quiet_tensorflow() -> None:
    """Hides TensorFlow's log: its C++ lines on descriptor 2 and its Python logging below
    warnings. Call before TensorFlow is imported; everything else on stderr still shows."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet_tensorflow_logging()
    # Forking once TensorFlow's threads run could copy a lock one of them holds; by then its
    # start-up lines are out anyway.
    if "tensorflow" not in sys.modules:
        StderrFilter().start()


def quiet_tensorflow_logging() -> None:
    """TensorFlow's Python logger: warnings and errors, without deprecation notices; absl's
    logger: errors only. Safe to call more than once (`serve` calls it again after it turns
    on INFO logging for the server's own messages)."""
    tensorflow_logger = logging.getLogger("tensorflow")
    tensorflow_logger.setLevel(logging.WARNING)
    tensorflow_logger.addFilter(_not_a_deprecation_notice)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def _not_a_deprecation_notice(record: logging.LogRecord) -> bool:
    # tf.compat.v1 APIs (TF Serving's graph-mode SavedModel loader among them) warn "... is deprecated ...
    # Instructions for updating"; that is for TensorFlow's callers, not the program's users.
    return "Instructions for updating" not in str(record.msg)


class StderrFilter:
    """Routes file descriptor 2 through a child process that drops some lines.

    The filter runs in a forked child rather than a thread so that it outlives the program:
    what the program writes just before it dies (a traceback, a fatal check) still reaches the
    real stderr, and the child exits once every writer has closed the pipe. Partial lines
    (progress bars ending in a carriage return, prompts) are forwarded as they come.

    Args:
        drop: whether to drop a line (given without its line ending).

    Example:

    >>> StderrFilter().start()  # then import tensorflow
    """

    def __init__(self, drop: Callable[[str], bool] = is_tensorflow_noise) -> None:
        self.drop = drop
        self.pid: int | None = None

    def start(self) -> StderrFilter:
        """Forks the filter and points descriptor 2 at it. Returns `self`."""
        read_fd, write_fd = os.pipe()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                os.close(write_fd)
                self._run_child(read_fd)
            except BaseException:  # noqa: BLE001  (the child must never return into main)
                status = 1
            finally:
                os._exit(status)
        os.close(read_fd)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self.pid = pid
        return self

    def _run_child(self, read_fd: int) -> None:
        # Ctrl-C and a terminating signal are for the program; the filter ends when the pipe
        # closes, after the program's last words.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Holding the program's stdout open would keep whoever reads it waiting for us.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        self._forward(read_fd, 2)

    def _forward(self, read_fd: int, write_fd: int) -> None:
        pending = b""
        writable = True
        while True:
            if pending:
                ready, _, _ = select.select([read_fd], [], [], 0.1)
                if not ready:
                    text = pending.decode(errors="replace")
                    if not NOISE_START.match(text):
                        writable = _write_all(write_fd, pending, writable)
                        pending = b""
                    continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            *lines, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
            for line in lines:
                if not self.drop(line.rstrip(b"\r\n").decode(errors="replace")):
                    writable = _write_all(write_fd, line, writable)
        if pending and not self.drop(pending.decode(errors="replace")):
            _write_all(write_fd, pending, writable)


def _write_all(fd: int, data: bytes, writable: bool) -> bool:
    """Writes `data` to `fd`; returns False (and writes nothing more) once `fd` is closed, so
    the program is never blocked by a full pipe nobody reads."""
    while writable and data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:
            return False
    return writable
