"""A stage's gradient training: Keras `fit` with the run's callbacks, resumable per epoch."""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.callbacks import BestEpoch, DynamicsMonitor, KLWarmup, NonFiniteLossStop
from dynamic_vae.config import RunConfig
from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.run_backup import RunBackup


@dataclasses.dataclass
class FitOutcome:
    """What `fit_stage` leaves besides the trained weights.

    Attributes:
        wall_time_seconds: the time `fit` took (0 when a finished backup left nothing to fit).
        best: the stage's `BestEpoch` when it keeps its best held-out epoch, else `None`.
        validation_windows: how many validation windows judged the epochs (0: none).
    """

    wall_time_seconds: float
    best: BestEpoch | None
    validation_windows: int


def fit_stage(model: DynamicVAE, config: RunConfig, pairs: FramePairs,
              validation_windows: np.ndarray | None, first_epoch: int, backup: RunBackup,
              distribution: tf.distribute.Strategy, log_dir: Path, chief: bool,
              callbacks: list[keras.callbacks.Callback] | None,
              verbose: int | str) -> FitOutcome:
    """Trains `model` from `first_epoch` to the configured last epoch.

    Every epoch is backed up (`backup`); with validation windows the stage ends with the
    weights of its best held-out epoch, the starting weights included.

    Raises:
        FloatingPointError: if the loss becomes NaN or inf; names the epoch, the step and the
            last good backup.
    """
    training = config.training
    dataset = pairs.epoch_dataset(training.batch_size, seed=training.seed,
                                  first_epoch=first_epoch, epochs=training.epochs,
                                  window=training.window,
                                  windows_per_epoch=training.windows_per_epoch)
    # Every replica gets a copy of each held-out pair or window (a batch of one cannot be
    # split between replicas); the mean over copies is the mean over examples.
    replicas = distribution.num_replicas_in_sync
    held_out = pairs.test_pairs if validation_windows is None else validation_windows
    validation = tf.data.Dataset.from_tensor_slices(
        np.repeat(held_out, replicas, axis=0)).batch(16 * replicas)
    divergence = NonFiniteLossStop()
    callbacks = [
        *(callbacks or []),
        DynamicsMonitor(log_dir / "dynamics", image_every=training.image_every,
                        seed=training.seed),
        keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0,
                                    write_graph=False),
        divergence,
        backup,  # last: it records the logs the callbacks above add to
    ]
    if training.kl_warmup_epochs > 0:
        callbacks.insert(0, KLWarmup(training.kl_warmup_epochs))
    best = None
    if validation_windows is not None:
        best = BestEpoch(backup.backup_dir, write=chief)
        best.start(model, first_epoch, lambda: model.evaluate(
            validation, verbose=0, return_dict=True)["loss"])
        callbacks.insert(-1, best)  # before the backup, so a backup always has its record
    start = time.perf_counter()
    if first_epoch < training.epochs:
        with warnings.catch_warnings():
            # Keras warns that shuffle=True is ignored for datasets; ours shuffles itself.
            warnings.filterwarnings("ignore", message=".*shuffle=True.*")
            model.fit(dataset, epochs=training.epochs, initial_epoch=first_epoch,
                      steps_per_epoch=pairs.steps_per_epoch(
                          training.batch_size, training.window, training.windows_per_epoch),
                      validation_data=validation, callbacks=callbacks, verbose=verbose)
    wall_time = time.perf_counter() - start
    if best is not None:
        best.on_train_end()  # also when a finished backup left nothing to fit
    if divergence.stopped_at is not None:
        last = backup.latest
        raise FloatingPointError(
            f"training diverged: the loss became {divergence.value} at epoch "
            f"{divergence.stopped_at[0] + 1}, step {divergence.stopped_at[1] + 1}; "
            + (f"the last good checkpoint is {last} (after epoch {backup.completed_epochs}; "
               "the same command resumes from it); "
               if last is not None else "no epoch completed, so there is no checkpoint; ")
            + "no model was written. To change the configuration (e.g. a lower "
              "--learning-rate) train again with --restart")
    return FitOutcome(wall_time, best,
                      0 if validation_windows is None else int(len(validation_windows)))
