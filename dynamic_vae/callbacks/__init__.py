"""Keras callbacks for training a `DynamicVAE`, one class per module.

| callback | what |
|---|---|
| `DynamicsMonitor` | A's spectrum and synthesised strips in TensorBoard |
| `KLWarmup` | ramps the KL term's weight up over the first epochs |
| `BestEpoch` | ends with the weights of the lowest validation loss |
| `NonFiniteLossStop` | stops at the first NaN or inf loss and records where |
| `FinishAfterFit` | `DynamicVAE.finish` when `fit` ends: the model `train` would write |
"""

from dynamic_vae.callbacks.best_epoch import BestEpoch
from dynamic_vae.callbacks.dynamics_monitor import DynamicsMonitor
from dynamic_vae.callbacks.finish_after_fit import FinishAfterFit
from dynamic_vae.callbacks.kl_warmup import KLWarmup
from dynamic_vae.callbacks.non_finite_loss_stop import NonFiniteLossStop

__all__ = ["BestEpoch", "DynamicsMonitor", "FinishAfterFit", "KLWarmup", "NonFiniteLossStop"]
