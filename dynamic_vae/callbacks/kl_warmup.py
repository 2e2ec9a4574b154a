"""`KLWarmup`: the KL term's weight ramps up over the first epochs."""

from __future__ import annotations

import keras


class KLWarmup(keras.callbacks.Callback):
    """Ramps the KL term's weight linearly from 1/warmup_epochs to 1 over the first epochs.

    Without it a large sigma lets the KL term win before the encoder has learnt anything, and
    the posterior collapses onto the prior.

    Args:
        warmup_epochs: epochs until the weight reaches 1; 0 or less keeps it at 1.

    Example:
    >>> model.fit(dataset, epochs=10, callbacks=[KLWarmup(4)])    # doctest: +SKIP
    """

    def __init__(self, warmup_epochs: int) -> None:
        super().__init__()
        self.warmup_epochs = warmup_epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        scale = 1.0 if self.warmup_epochs <= 0 else min(1.0, (epoch + 1) / self.warmup_epochs)
        self.model.dynamic_layer.kl_schedule.assign(scale)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.dynamic_layer.kl_schedule.assign(1.0)
