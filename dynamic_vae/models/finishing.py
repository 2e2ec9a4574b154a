"""The closed-form steps that finish a model after the last epoch of `fit`.

Gradient training leaves three parts of a `DynamicVAE` that are not trained by gradients but
fitted in closed form to what the trained networks make of the training frames:

1. `period` > 0: the near-harmonic eigenvalue planes of A are locked to turn exactly once
   per period (`dynamic_vae.spectrum.lock_harmonics`), with B set so that the process
   stays stationary.
2. `residual_rank` > 0: the residual texture, what the decoder leaves out of the training
   frames (`DynamicVAE.fit_residual_texture`).
3. `start_states` > 0: the posterior means of training frames that synthesis without a
   start pair begins from (`DynamicVAE.fit_start_states`).

They run in this order because the later steps read states through A (the smoothed
posterior) and, with a locked period, choose start states by their phase under the locked A.
`DynamicVAE.finish` is the public entry; `dynamic_vae.training.train` and the
`dynamic_vae.callbacks.FinishAfterFit` callback both call it.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.spectrum import lock_harmonics

if TYPE_CHECKING:
    from dynamic_vae.models.dynamic_vae import DynamicVAE


def finish_after_fit(model: "DynamicVAE", pairs: FramePairs, seed: int | None = None,
                     batch_size: int = 256) -> dict[str, Any]:
    """Runs the finishing steps on `model` (see `DynamicVAE.finish`, which documents them)."""
    check_finish_arguments(pairs, seed, batch_size)
    if pairs.frame_shape != tuple(model.frame_shape):
        raise ValueError(f"finish: pairs has frames of shape {pairs.frame_shape}, but the "
                         f"model's frame_shape is {tuple(model.frame_shape)}")
    if seed is None:
        seed = 0 if model.seed is None else int(model.seed)
    report: dict[str, Any] = {}
    transition, noise = model.transition()
    if not (np.isfinite(transition).all() and np.isfinite(noise).all()):
        raise ValueError("finish: the model's A or B has NaN or inf entries (training "
                         "diverged); there is nothing to finish")
    period = model.model_config.period
    if period:
        transition, noise, report["locked_harmonics"] = lock_harmonics(transition, period)
        model.dynamic_layer.set_transition(transition, noise)
    if model.residual_texture is not None:
        # Only the training pairs' frames: held-out and validation frames stay unseen, as
        # they were by the gradient steps.
        report["residual_texture"] = model.fit_residual_texture(
            pairs.frames, pairs.train_starts, seed=seed, batch_size=batch_size)
    if model.start_states is not None:
        report["start_states"] = model.fit_start_states(pairs.frames, pairs.train_starts,
                                                        batch_size=batch_size)
    return report


def check_finish_arguments(pairs: FramePairs, seed: int | None, batch_size: int,
                           caller: str = "finish") -> None:
    """Raises a ValueError naming the argument (and `caller`) if `pairs`, `seed` or
    `batch_size` cannot be finished with; the model's frame shape is checked by `finish`."""
    if not isinstance(pairs, FramePairs):
        raise ValueError(f"{caller}: pairs must be the FramePairs the model is fitted on "
                         f"(dynamic_vae.data.make_frame_pairs(frames)), got "
                         f"{type(pairs).__name__}")
    if len(pairs.train_starts) == 0:
        raise ValueError(f"{caller}: pairs has no training pairs (train_starts is empty)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"{caller}: seed must be an integer or None, got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or (
            batch_size < 1):
        raise ValueError(f"{caller}: batch_size must be an integer >= 1, got {batch_size!r}")
