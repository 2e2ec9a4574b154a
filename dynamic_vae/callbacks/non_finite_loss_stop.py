"""`NonFiniteLossStop`: training stops at the first NaN or inf loss, and says where."""

from __future__ import annotations

import keras
import numpy as np


class NonFiniteLossStop(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or inf and remembers where.

    Unlike `keras.callbacks.TerminateOnNaN` it records the epoch, step and value, so `train`
    can fail with a message naming them and the last good backup.

    Attributes:
        stopped_at: `(epoch, step)` (0-based) of the first non-finite loss, or `None`.
        value: that loss.

    Example:
    >>> stop = NonFiniteLossStop()
    >>> model.fit(dataset, epochs=10, callbacks=[stop])           # doctest: +SKIP
    >>> stop.stopped_at                                            # doctest: +SKIP
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_at: tuple[int, int] | None = None
        self.value: float | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or self.stopped_at is not None:
            return
        loss = float(loss)
        if not np.isfinite(loss):
            self.stopped_at, self.value = (self._epoch, batch), loss
            self.model.stop_training = True
