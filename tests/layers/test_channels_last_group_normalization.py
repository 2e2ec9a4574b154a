"""Channels-last group normalisation: Keras's layer's maths, its gradients, and a closed form."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.layers import ChannelsLastGroupNormalization
from tests.helpers.layer_checks import LayerChecks


def _pair(groups, channels, rng, **kwargs):
    ours = ChannelsLastGroupNormalization(groups, **kwargs)
    theirs = keras.layers.GroupNormalization(groups, **kwargs)
    shape = (3, 5, 6, channels)
    ours.build(shape)
    theirs.build(shape)
    for weight in ("gamma", "beta"):
        if getattr(ours, weight, None) is not None:
            value = rng.normal(size=channels).astype(np.float32)
            getattr(ours, weight).assign(value)
            getattr(theirs, weight).assign(value)
    return ours, theirs


def _numpy_group_norm(x, groups, gamma, beta, epsilon):
    n, h, w, c = x.shape
    grouped = x.astype(np.float64).reshape(n, h, w, groups, c // groups)
    mean = grouped.mean(axis=(1, 2, 4), keepdims=True)
    variance = grouped.var(axis=(1, 2, 4), keepdims=True)
    normalised = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape)
    return normalised * gamma + beta


@pytest.mark.parametrize("groups,channels", [(1, 4), (2, 4), (4, 16), (8, 16), (16, 16)])
def test_matches_the_closed_form_and_keras(groups, channels, rng):
    ours, theirs = _pair(groups, channels, rng)
    x = (3.0 + 2.0 * rng.normal(size=(3, 5, 6, channels))).astype(np.float32)
    expected = _numpy_group_norm(x, groups, ours.gamma.numpy(), ours.beta.numpy(), ours.epsilon)
    np.testing.assert_allclose(ours(x).numpy(), expected, atol=2e-5)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=2e-5)


def test_gradients_equal_keras(rng):
    ours, theirs = _pair(4, 8, rng)
    x = tf.constant(rng.normal(size=(3, 5, 6, 8)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(3, 5, 6, 8)).astype(np.float32))

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(layer(x) * weights)
        return tape.gradient(value, [x, layer.gamma, layer.beta])

    for mine, keras_own in zip(gradients(ours), gradients(theirs)):
        np.testing.assert_allclose(mine.numpy(), keras_own.numpy(), atol=5e-5)


def test_without_scale_and_centre(rng):
    ours, theirs = _pair(2, 4, rng, center=False, scale=False)
    x = rng.normal(size=(3, 5, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=2e-5)


def test_bfloat16_policy_keeps_float32_statistics(rng):
    layer = ChannelsLastGroupNormalization(2, dtype="mixed_bfloat16")
    x = (100.0 + rng.normal(size=(2, 4, 4, 4))).astype(np.float32)
    out = layer(tf.cast(x, tf.bfloat16))
    assert out.dtype == tf.bfloat16
    expected = _numpy_group_norm(x.astype(np.float32), 2, 1.0, 0.0, layer.epsilon)
    # The inputs were rounded to bfloat16 (8 bits of mantissa) at 100: the normalised values
    # keep that error relative to a unit spread.
    np.testing.assert_allclose(out.numpy().astype(np.float32), expected, atol=0.5)
    assert np.all(np.isfinite(out.numpy().astype(np.float32)))


def test_serialisation_and_keras_file(rng, tmp_path):
    layer = ChannelsLastGroupNormalization(4, epsilon=1e-4, name="norm")
    x = rng.normal(size=(2, 4, 4, 8)).astype(np.float32)
    layer(x)
    layer.gamma.assign(rng.normal(size=8).astype(np.float32))
    LayerChecks().run_all(layer, x, tmp_path)


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match=r"axis: .* last axis \(-1\), got 1"):
        ChannelsLastGroupNormalization(2, axis=1)
    with pytest.raises(ValueError, match=r"expects \(N, H, W, C\) inputs, got shape \(2, 8\)"):
        ChannelsLastGroupNormalization(2)(np.zeros((2, 8), np.float32))


def test_a_large_mean_against_a_small_spread_does_not_cancel(rng):
    # One pass of E[x^2] - E[x]^2 would lose the variance to rounding here (1e4^2 against a
    # spread of 1e-2 is 14 orders of magnitude); the per-group shift keeps it.
    layer = ChannelsLastGroupNormalization(2)
    x = (1e4 + 1e-2 * rng.normal(size=(2, 5, 6, 4))).astype(np.float32)
    expected = _numpy_group_norm(x, 2, 1.0, 0.0, 0.0)
    layer.epsilon = 0.0
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=5e-2)
    assert np.std(layer(x).numpy()) > 0.9
