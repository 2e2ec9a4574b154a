"""Training a Dynamic VAE into a run directory.

`train` runs one stage, or a first stage and a fine-tuning stage (`training.run`). A stage
follows its data (`training.stage`):

    data    the frame pairs and the validation windows held out (`training.data`)
    start   the compiled model at its starting weights (`training.start`)
    fit     Keras `fit` with the run's callbacks (`dynamic_vae.callbacks`), backed up every
            epoch (`training.fit`)
    finish  `DynamicVAE.finish`, the closed-form steps after the last epoch
            (`dynamic_vae.models.finishing`)
    save    the run directory's files (`training.save`; their names are `dynamic_vae.runs`'s)

The callbacks are importable from here as well as from `dynamic_vae.callbacks`.
"""

from dynamic_vae.callbacks import (BestEpoch, DynamicsMonitor, FinishAfterFit, KLWarmup,
                                   NonFiniteLossStop)
from dynamic_vae.training.data import load_training_frames
from dynamic_vae.training.run import train
from dynamic_vae.training.save import plot_history
from dynamic_vae.training.start import build_model, copy_weights

__all__ = ["BestEpoch", "DynamicsMonitor", "FinishAfterFit", "KLWarmup", "NonFiniteLossStop",
           "build_model", "copy_weights", "load_training_frames", "plot_history", "train"]
