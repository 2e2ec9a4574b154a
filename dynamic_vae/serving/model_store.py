"""The versions of one model a server holds: polled from disk, swapped in atomically."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from dynamic_vae.export.versioning import existing_versions
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.version_status import VersionStatus
from dynamic_vae.serving.serving_error import not_found

logger = logging.getLogger(__name__)

# Attempts at loading a version before it is reported as failed for good (a folder copied in
# non-atomically becomes loadable once the copy finishes).
MAX_LOAD_ATTEMPTS = 5


class ModelStore:
    """The loaded versions of the model in `base_path` (`base_path/<integer version>/`).

    The version policy is TF Serving's: the newest `num_versions` versions on disk are
    loaded (`num_versions=None` loads all). `poll()` loads what is new and drops what the
    policy no longer selects; a new version is loaded completely before it replaces the old
    one, so requests never see a gap, and requests already running on the old version keep
    their reference to it and finish. A version that fails to load is retried on the next
    polls and never replaces a working one.

    Args:
        base_path: the model's folder.
        name: the model name requests use.
        num_versions: versions to keep loaded (newest first); `None` for all.
        max_frames: server-side cap on `num_frames` inputs (see `Servable`).
        max_batch: server-side cap on the batch dimension of inputs (see `Servable`).

    Example:
    >>> store = ModelStore("saved_models/counting", "counting")
    >>> store.poll()
    >>> store.get().run("generate", {...})
    """

    def __init__(self, base_path: str | Path, name: str, num_versions: int | None = 1,
                 max_frames: int | None = None, max_batch: int | None = None) -> None:
        self.base_path = Path(base_path)
        if not self.base_path.is_dir():
            raise FileNotFoundError(f"--model-base-path {self.base_path}: no such folder (export "
                                    "a run there with 'dynamic-vae export RUN --name NAME')")
        if num_versions is not None and num_versions < 1:
            raise ValueError(f"num_versions must be >= 1 or None (all), got {num_versions}")
        self.name = name
        self.num_versions = num_versions
        self.max_frames = max_frames
        self.max_batch = max_batch
        self._servables: dict[int, Servable] = {}
        self._failures: dict[int, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- requests -----------------------------------------------------------------------

    def get(self, version: int | None = None) -> Servable:
        """The servable for `version` (`None`: the newest loaded).

        Raises:
            ServingError: NOT_FOUND when no such version is loaded.
        """
        servables = self._servables  # one read: the dict is replaced, never mutated
        if version is None:
            if not servables:
                raise not_found(f"Servable not found for request: Latest({self.name}); no "
                                f"version is loaded from {self.base_path}")
            return servables[max(servables)]
        if version not in servables:
            raise not_found(f"Servable not found for request: Specific({self.name}, {version}); "
                            f"loaded versions: {sorted(servables)}")
        return servables[version]

    def versions(self) -> list[int]:
        return sorted(self._servables)

    def statuses(self) -> list[VersionStatus]:
        """Every loaded version (AVAILABLE) and every version that failed to load (END)."""
        servables, failures = self._servables, dict(self._failures)
        statuses = [VersionStatus(v, "AVAILABLE") for v in servables]
        statuses += [VersionStatus(v, "END", error) for v, (attempts, error) in failures.items()
                     if v not in servables and attempts >= MAX_LOAD_ATTEMPTS]
        return sorted(statuses, key=lambda s: s.version, reverse=True)

    # --- polling ------------------------------------------------------------------------

    def poll(self) -> list[int]:
        """Loads the versions the policy wants, swaps them in, drops the others.

        Walks the versions on disk newest first until `num_versions` are loaded; a version
        that fails to load is skipped (and retried on later polls), so a broken newest
        version leaves its slot to the newest one that works: serving an older version beats
        serving nothing. Returns the loaded versions afterwards.
        """
        with self._poll_lock:
            on_disk = existing_versions(self.base_path)
            wanted = len(on_disk) if self.num_versions is None else self.num_versions
            current = self._servables
            loaded: dict[int, Servable] = {}
            for version in reversed(on_disk):
                if len(loaded) >= wanted:
                    break
                if version in current:
                    loaded[version] = current[version]
                    continue
                attempts, _ = self._failures.get(version, (0, ""))
                if attempts >= MAX_LOAD_ATTEMPTS:
                    continue
                try:
                    loaded[version] = Servable(self.base_path / str(version), version,
                                               max_frames=self.max_frames,
                                               max_batch=self.max_batch)
                    self._failures.pop(version, None)
                    logger.info("loaded %s version %d", self.name, version)
                except Exception as error:  # noqa: BLE001 - a broken folder must not stop serving
                    self._failures[version] = (attempts + 1, f"{type(error).__name__}: {error}")
                    logger.warning("could not load %s version %d (attempt %d): %s", self.name,
                                   version, attempts + 1, error)
            with self._lock:
                self._servables = loaded
            return sorted(loaded)

    def start_polling(self, interval_seconds: float = 1.0) -> None:
        """Polls `base_path` every `interval_seconds` in a daemon thread."""
        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll()
                except Exception:  # noqa: BLE001 - a failed poll is retried next time
                    logger.exception("polling %s failed", self.base_path)

        self._thread = threading.Thread(target=loop, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
