"""Backing up a run's training state every epoch, so a killed run resumes where it stopped.

A backup is a directory `backup/epoch-NNNN/` holding `state.npz` (every model variable, the
latent sampler's SeedGenerator state included, and every optimizer variable) and `state.json`
(the completed epochs, the history so far and the run's config). It is written under a
temporary name and renamed into place (`dynamic_vae.atomic.atomic_directory`), so a kill at
any moment leaves either the previous backup or the new one, never half of one. The two
newest backups are kept.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dynamic_vae.atomic import atomic_directory

STATE_ARRAYS = "state.npz"
STATE_JSON = "state.json"
PREFIX = "epoch-"
# `epochs` may change between a kill and a restart: it only says where to stop, and neither
# the data order nor the model depends on it. A later stage's config.json also records the
# lengths in the `finetune` and `variety` sections.
RESUMABLE_FIELDS = {("training", "epochs"), ("finetune", "epochs"), ("variety", "epochs")}


def _flatten(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(data, dict):
        flat: dict[tuple[str, ...], Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, prefix + (str(key),)))
        return flat
    return {prefix: data}


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`'section.field: saved -> current'` for every field that differs (JSON-normalised)."""
    saved_flat = _flatten(json.loads(json.dumps(saved)))
    current_flat = _flatten(json.loads(json.dumps(current)))
    differences = []
    for key in sorted(set(saved_flat) | set(current_flat)):
        if key in RESUMABLE_FIELDS:
            continue
        old, new = saved_flat.get(key, "(absent)"), current_flat.get(key, "(absent)")
        if old != new:
            differences.append(f"{'.'.join(key)}: {old!r} -> {new!r}")
    return differences


def _model_variables(model: keras.Model) -> list[keras.Variable]:
    return list(model.variables) + list(model.optimizer.variables)


class RunBackup(keras.callbacks.Callback):
    """Writes the training state after every finite epoch and restores the newest one.

    Call `restore(model)` before `fit` (with the model's optimizer built) to get the epoch to
    start from; pass the callback to `fit` to keep backing up; `history` then holds the
    metrics of every completed epoch, before and after the restart.

    Args:
        backup_dir: where the `epoch-NNNN/` backups live.
        run_config: the run's complete configuration (JSON-able); a backup of a different
            configuration is never restored.
        keep: how many of the newest backups to keep.
        write: `False` on a worker that must not write (multi-worker training: only the chief
            writes; the others restore from the chief's backup).

    Example:
    >>> backup = RunBackup("run/backup", config.to_dict())        # doctest: +SKIP
    >>> first_epoch = backup.restore(model)                        # doctest: +SKIP
    >>> model.fit(data, epochs=10, initial_epoch=first_epoch, callbacks=[backup])  # doctest: +SKIP
    """

    def __init__(self, backup_dir: str | Path, run_config: dict[str, Any], keep: int = 2,
                 write: bool = True) -> None:
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.run_config = json.loads(json.dumps(run_config))
        self.keep = keep
        self.write = write
        self.history: dict[str, list[float]] = {}
        self.completed_epochs = 0

    # --- reading ----------------------------------------------------------------------------

    def backups(self) -> list[Path]:
        """The complete backups, newest first."""
        if not self.backup_dir.is_dir():
            return []
        found = [p for p in self.backup_dir.iterdir()
                 if p.is_dir() and p.name.startswith(PREFIX) and p.name[len(PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.name[len(PREFIX):]), reverse=True)

    @property
    def latest(self) -> Path | None:
        found = self.backups()
        return found[0] if found else None

    def _read_state(self, path: Path) -> dict[str, Any]:
        try:
            state = json.loads((path / STATE_JSON).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{path / STATE_JSON}: unreadable backup ({error})") from None
        for key in ("epoch", "history", "config", "variables"):
            if key not in state:
                raise ValueError(f"{path / STATE_JSON}: not a backup (no {key!r} entry)")
        return state

    def check_config(self) -> None:
        """Raises ValueError naming every differing field if the newest backup is of
        another configuration."""
        for latest in self.backups():
            try:
                saved = self._read_state(latest)["config"]
                break
            except ValueError:
                continue  # restore() skips it too, with a warning
        else:
            return
        differences = config_differences(saved, self.run_config)
        if differences:
            raise ValueError(
                f"{latest}: the run directory holds a backup of a different configuration "
                f"({'; '.join(differences)}); resume with the same flags, or pass --restart "
                "to discard the backup and train from scratch")

    def restore(self, model: keras.Model) -> int:
        """Loads the newest backup into `model` and its optimizer; returns its epoch count
        (0 if there is none). A backup that cannot be read is skipped with a warning, the
        next older one is tried."""
        self.check_config()
        for path in self.backups():
            try:
                state = self._read_state(path)
                self._load_arrays(model, path, state)
            except ValueError as error:
                print(f"warning: skipping backup {path}: {error}", file=sys.stderr)
                continue
            self.history = {k: [float(v) for v in values]
                            for k, values in state["history"].items()}
            self.completed_epochs = int(state["epoch"])
            return self.completed_epochs
        return 0

    def _load_arrays(self, model: keras.Model, path: Path, state: dict[str, Any]) -> None:
        variables = _model_variables(model)
        # Matched by position and shape: variable paths carry Keras's per-process unique-name
        # suffixes, so a restarted process may name the same variable differently.
        if len(state["variables"]) != len(variables):
            raise ValueError(f"{path}: holds {len(state['variables'])} variables, the model "
                             f"and its optimizer have {len(variables)}")
        try:
            with np.load(path / STATE_ARRAYS, allow_pickle=False) as arrays:
                values = [arrays[f"v{i}"] for i in range(len(variables))]
        except (OSError, ValueError, KeyError, EOFError) as error:
            raise ValueError(f"{path / STATE_ARRAYS}: unreadable ({error})") from None
        for variable, value in zip(variables, values):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{path / STATE_ARRAYS}: {variable.path} has shape "
                                 f"{value.shape}, the model's is {tuple(variable.shape)}")
        for variable, value in zip(variables, values):
            variable.assign(value)

    # --- writing ----------------------------------------------------------------------------

    def clear(self) -> None:
        """Deletes every backup (`--restart`)."""
        if self.backup_dir.exists():
            shutil.rmtree(self.backup_dir)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not all(math.isfinite(v) for k, v in logs.items() if "loss" in k):
            return  # never back up a diverged state; the last finite backup stays
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        self.completed_epochs = epoch + 1
        if self.write:
            self.save(self.completed_epochs)

    def save(self, epoch: int) -> Path:
        """Writes the backup of `epoch` completed epochs atomically; returns its path."""
        final = self.backup_dir / f"{PREFIX}{epoch:04d}"
        variables = _model_variables(self.model)
        # Durable: a backup must survive a power loss, not only a killed process.
        with atomic_directory(final, durable=True) as tmp:
            np.savez(tmp / STATE_ARRAYS, **{f"v{i}": keras.ops.convert_to_numpy(v)
                                            for i, v in enumerate(variables)})
            (tmp / STATE_JSON).write_text(json.dumps({
                "epoch": epoch, "history": self.history, "config": self.run_config,
                "variables": [v.path for v in variables]}, indent=1))
        for old in self.backups()[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
        return final

