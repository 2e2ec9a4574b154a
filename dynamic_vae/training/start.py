"""Where a stage's model starts: a compiled model, and the weights it begins from."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.config import ARCHITECTURE_FIELDS, RunConfig, warm_start_keeps
from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import load_run


def build_model(config: RunConfig) -> DynamicVAE:
    """A compiled model for `config`.

    Args:
        config: the run configuration; its `model` section builds the model, its `training`
            section sets the seed, which weights train and the optimizer.

    Example:
    >>> model = build_model(get_preset("counting-mnist"))          # doctest: +SKIP
    """
    training = config.training
    model = DynamicVAE.from_model_config(config.model, seed=training.seed)
    if training.trainable == "dynamics":
        # The observation map keeps its starting weights; the posterior's variance still
        # adapts, so the KL term can weigh the codes against the learnt dynamics.
        for network in (model.encoder, model.decoder):
            for layer in network.layers:
                layer.trainable = layer.name == "log_variance"
    elif training.trainable == "observation":
        # A and B keep their starting values (a locked cycle stays locked); the encoder and
        # decoder learn to carry what the dynamics leave to the innovations.
        model.dynamic_layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate),
                  jit_compile=training.jit_compile,
                  steps_per_execution=training.steps_per_execution)
    return model


def copy_weights(source: DynamicVAE, model: DynamicVAE) -> None:
    """Copies the encoder, decoder, A and B of `source` into `model`: the same architecture,
    or one grown from it (`warm_start_keeps`), whose added layers keep their initial weights.

    Example:
    >>> copy_weights(load_run("runs/x").model, model)                # doctest: +SKIP
    """
    model.encoder.set_weights(source.encoder.get_weights())
    # Layer by layer, by name: a grown decoder has layers its source lacks.
    for layer in source.decoder.layers:
        model.decoder.get_layer(layer.name).set_weights(layer.get_weights())
    model.dynamic_layer.set_weights(source.dynamic_layer.get_weights())
    if model.model_config.observation_noise == "learned":
        model.log_sigma.assign(source.log_sigma)


def warm_start_source(run_dir: str | Path, config: RunConfig) -> DynamicVAE:
    """The model of the finished run `run_dir`, checked to have `config`'s architecture."""
    try:
        run = load_run(run_dir)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"init_from: {error}") from None
    if run.is_baseline:
        raise ValueError(f"init_from {run_dir}: a linear-baseline run has no networks to "
                         "start from")
    source = run.model
    for name in ARCHITECTURE_FIELDS:
        theirs = getattr(source.model_config, name)
        ours = getattr(config.model, name)
        if not warm_start_keeps(name, theirs, ours):
            raise ValueError(f"init_from {run_dir}: its {name} is {theirs!r} but this run's is "
                             f"{ours!r}; a warm start needs the same network architecture")
    return source


def start_model(config: RunConfig, distribution: tf.distribute.Strategy, backup: RunBackup,
                restart: bool, source: DynamicVAE | None, pairs: FramePairs,
                validation_windows: np.ndarray | None) -> tuple[DynamicVAE, int]:
    """`(model, first epoch)`: the stage's model, at the epoch its backup reached, else at
    `source`'s weights, the linear start of a `linear_path` model, or the period's harmonic
    start."""
    training = config.training
    keras.utils.set_random_seed(training.seed)
    with distribution.scope():
        model = build_model(config)
        model.optimizer.build(model.trainable_variables)
    # Other workers may still see the chief's old backup while it is being cleared.
    first_epoch = 0 if restart else min(backup.restore(model), training.epochs)
    if source is not None and first_epoch == 0:
        copy_weights(source, model)
    elif first_epoch == 0 and config.model.linear_path:
        from dynamic_vae.models.linear_initialisation import initialise_from_linear_texture

        # The closed-form observation map fits every frame of the clip: with so few frames
        # that a linear dynamic texture is the baseline, a few more frames next to the tail
        # change the subspace noticeably (on a 48-frame clip, leaving out its last 4 frames
        # raised the held-out reconstruction error fivefold). A fits the training pairs
        # alone (and the test pair, only a start for generate), so validation windows judge
        # the dynamics on pairs it did not fit; a stage that trains only the dynamics then
        # compares its epochs fairly, as the observation map is the same in all of them.
        fitted = (pairs.train_starts if validation_windows is not None
                  else np.union1d(pairs.train_starts, pairs.test_starts))
        # With a harmonic start the linear start is the frames' Fourier series over the
        # period, which has the fundamental and turns exactly once per period from the start.
        harmonic = config.model.period if training.harmonic_start else None
        initialise_from_linear_texture(model, pairs.frames, fitted, seed=training.seed,
                                       subspace_frames=np.arange(len(pairs.frames)),
                                       period=harmonic)
    elif (source is None and first_epoch == 0 and training.harmonic_start
          and config.model.period):
        from dynamic_vae.spectrum import harmonic_transition

        # Before any epoch, so the networks learn to place frames on the turning rings.
        model.dynamic_layer.set_transition(*harmonic_transition(config.model.latent_dim,
                                                                config.model.period))
    return model, first_epoch
