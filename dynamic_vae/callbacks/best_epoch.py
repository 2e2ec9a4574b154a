"""`BestEpoch`: a stage ends with the weights of its lowest validation loss."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from dynamic_vae.atomic import atomic_path, atomic_write_text
from dynamic_vae.runs import BEST_RECORD_FILE, BEST_WEIGHTS_FILE


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss and ends with them.

    `start(model, first_epoch, evaluate)` records the starting weights before `fit`, so
    training that only makes the held-out loss worse ends where it began. The best weights so
    far are also written to the backup folder (`runs.BEST_WEIGHTS_FILE`, with
    `runs.BEST_RECORD_FILE`), so a resumed run chooses among the same epochs as an
    uninterrupted one.

    Args:
        backup_dir: the run's backup folder.
        write: whether this process writes (the chief of a multi-worker run).

    Example:
    >>> best = BestEpoch("runs/x/backup")                         # doctest: +SKIP
    >>> best.start(model, 0, lambda: model.evaluate(held_out, return_dict=True)["loss"])
    >>> model.fit(dataset, epochs=10, validation_data=held_out, callbacks=[best])
    >>> best.best_epoch, best.best_loss
    """

    def __init__(self, backup_dir: str | Path, write: bool = True) -> None:
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.write = write
        self.best_epoch: int | None = None
        self.best_loss = float("inf")
        self._weights: list[np.ndarray] | None = None

    def start(self, model: keras.Model, first_epoch: int,
              evaluate: Callable[[], float]) -> None:
        """Before `fit`: resumes the record of a backup, or records the starting weights
        as epoch `first_epoch` with the validation loss `evaluate()` gives."""
        self.set_model(model)
        record = self.backup_dir / BEST_RECORD_FILE
        if first_epoch > 0 and record.exists():
            saved = json.loads(record.read_text())
            with np.load(self.backup_dir / BEST_WEIGHTS_FILE, allow_pickle=False) as arrays:
                self._weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
            self.best_epoch, self.best_loss = int(saved["epoch"]), float(saved["loss"])
            return
        self._keep(first_epoch, float(evaluate()))

    def _keep(self, epoch: int, loss: float) -> None:
        self.best_epoch, self.best_loss = epoch, loss
        self._weights = [np.array(w) for w in self.model.get_weights()]
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.backup_dir / BEST_WEIGHTS_FILE) as tmp:
            np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self._weights)})
        atomic_write_text(self.backup_dir / BEST_RECORD_FILE,
                          json.dumps({"epoch": epoch, "loss": loss}))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("val_loss")
        if loss is not None and np.isfinite(loss) and float(loss) < self.best_loss:
            self._keep(epoch + 1, float(loss))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._weights is not None:
            self.model.set_weights(self._weights)
