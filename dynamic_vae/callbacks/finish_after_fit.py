"""`FinishAfterFit`: `DynamicVAE.finish` at the end of `fit`."""

from __future__ import annotations

from typing import Any

import keras

from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.models.finishing import check_finish_arguments


class FinishAfterFit(keras.callbacks.Callback):
    """Calls `model.finish(pairs, seed, batch_size)` when `fit` ends.

    The finished model is the one `dynamic_vae.training.train` would have written for the
    same fit: A's harmonics locked, the residual texture and the start states fitted (see
    `DynamicVAE.finish`). Keras runs the callbacks' `on_train_end` in list order, so put this
    one after any callback that restores weights (e.g. `BestEpoch`, or `EarlyStopping` with
    `restore_best_weights`): the steps must read the weights the model ends with.

    Args:
        pairs: the `FramePairs` whose windows `fit` trains on.
        seed: seed of the residual texture's randomized SVD; `None` takes the model's seed.
        batch_size: pairs encoded per call.

    Attributes:
        report: what `finish` returned, once `fit` has ended (`None` before).

    Example:
    >>> pairs = make_frame_pairs(frames)                           # doctest: +SKIP
    >>> finish = FinishAfterFit(pairs)
    >>> model.fit(pairs.dataset(batch_size=16), epochs=10, callbacks=[finish])
    >>> finish.report["start_states"]
    """

    def __init__(self, pairs: FramePairs, seed: int | None = None,
                 batch_size: int = 256) -> None:
        super().__init__()
        # Checked here too, so a wrong argument fails before the epochs rather than after.
        check_finish_arguments(pairs, seed, batch_size, caller="FinishAfterFit")
        self.pairs = pairs
        self.seed = seed
        self.batch_size = batch_size
        self.report: dict[str, Any] | None = None

    def on_train_end(self, logs: dict | None = None) -> None:
        self.report = self.model.finish(self.pairs, seed=self.seed, batch_size=self.batch_size)
