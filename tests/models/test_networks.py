"""The observation networks: shapes for any frame size, and the shared layer checks for v1
and residual builders."""

import numpy as np
import pytest

from dynamic_vae.config import ModelConfig
from dynamic_vae.models import build_decoder, build_encoder
from dynamic_vae.models.residual_networks import build_residual_decoder, build_residual_encoder
from tests.helpers.layer_checks import LayerChecks


@pytest.mark.parametrize("frame_shape", [(32, 32, 1), (28, 28, 1), (48, 48, 1), (64, 64, 3),
                                         (30, 45, 3)])
@pytest.mark.parametrize("encoder_mode", ["frame", "pair"])
def test_shapes_for_any_frame_size(frame_shape, encoder_mode):
    config = ModelConfig(frame_shape=frame_shape, latent_dim=6, encoder_mode=encoder_mode)
    encoder, decoder = build_encoder(config), build_decoder(config)
    in_channels = frame_shape[2] * (2 if encoder_mode == "pair" else 1)
    mean, log_variance = encoder(np.zeros((3, *frame_shape[:2], in_channels), "float32"))
    out_dim = 12 if encoder_mode == "pair" else 6
    assert mean.shape == (3, out_dim) and log_variance.shape == (3, out_dim)
    frames = decoder(np.zeros((3, 6), "float32"))
    assert frames.shape == (3, *frame_shape)


def test_paper_v1_layer_sizes():
    """32x32x1: dense to 4x4x64, then 8x8x16, 16x16x4, 32x32x1 (paper section 5)."""
    decoder = build_decoder(ModelConfig(frame_shape=(32, 32, 1)))
    shapes = [layer.output.shape[1:] for layer in decoder.layers
              if layer.name.startswith(("reshape", "conv"))]
    assert shapes == [(4, 4, 64), (8, 8, 16), (16, 16, 4), (32, 32, 1)]
    encoder = build_encoder(ModelConfig(frame_shape=(32, 32, 1), encoder_mode="pair"))
    conv_shapes = [layer.output.shape[1:] for layer in encoder.layers
                   if layer.name.startswith("conv")]
    assert conv_shapes == [(32, 32, 4), (16, 16, 16), (8, 8, 64)]


def test_dense_units_add_a_hidden_path_to_the_decoder():
    """The state reaches the first feature map also through a hidden ReLU layer; the encoder
    is the paper's."""
    config = ModelConfig(frame_shape=(32, 32, 1), latent_dim=5, dense_units=48)
    decoder, encoder = build_decoder(config), build_encoder(config)
    dense_shapes = [layer.output.shape[1:] for layer in decoder.layers
                    if layer.name in ("hidden", "dense")]
    assert dense_shapes == [(48,), (4 * 4 * 64,)]
    assert "hidden" not in [layer.name for layer in encoder.layers]
    paper = build_decoder(ModelConfig(frame_shape=(32, 32, 1), latent_dim=5))
    # The hidden path's weights come on top of the paper's: 5 * 48 + 48 into the hidden
    # layer and 48 * 1024 out of it (no bias: the paper's dense layer has one).
    assert decoder.count_params() - paper.count_params() == 5 * 48 + 48 + 48 * 1024
    with pytest.raises(ValueError, match="dense_units needs architecture 'v1'"):
        ModelConfig(architecture="residual", dense_units=8)
    with pytest.raises(ValueError, match="dense_units must be an integer >= 0, got -1"):
        ModelConfig(dense_units=-1)


@pytest.mark.parametrize("activation,low,high", [("sigmoid", 0, 1), ("tanh", -1, 1)])
def test_output_activation_bounds_pixels(activation, low, high):
    config = ModelConfig(output_activation=activation, latent_dim=4)
    frames = build_decoder(config)(np.random.default_rng(0).normal(size=(8, 4)) * 50).numpy()
    assert frames.min() >= low and frames.max() <= high


def test_config_validation():
    with pytest.raises(ValueError, match="encoder_mode"):
        ModelConfig(encoder_mode="both")
    with pytest.raises(ValueError, match="sigma"):
        ModelConfig(sigma=0)
    with pytest.raises(ValueError, match="frame_shape"):
        ModelConfig(frame_shape=(32, 32))
    with pytest.raises(ValueError, match="pixel_range"):
        ModelConfig(pixel_range=(1, 0))


@pytest.mark.parametrize("encoder_mode,mixed_precision", [("frame", "off"), ("pair", "bfloat16")])
@pytest.mark.parametrize("build_encoder_of,build_decoder_of",
                         [(build_encoder, build_decoder),
                          (build_residual_encoder, build_residual_decoder)],
                         ids=["v1", "residual"])
def test_networks_pass_the_layer_checks(build_encoder_of, build_decoder_of, encoder_mode,
                                        mixed_precision, rng, tmp_path):
    config = ModelConfig(frame_shape=(16, 16, 1), latent_dim=3, filter_size=3,
                         base_channels=8, width=8, depth=1, encoder_mode=encoder_mode,
                         mixed_precision=mixed_precision,
                         dense_units=6 if build_encoder_of is build_encoder else 0)
    in_channels = 2 if encoder_mode == "pair" else 1
    frames = rng.random((2, 16, 16, in_channels)).astype("float32")
    latents = rng.normal(size=(2, 3)).astype("float32")
    checks = LayerChecks()
    checks.run_all(build_encoder_of(config), frames, tmp_path)
    checks.run_all(build_decoder_of(config), latents, tmp_path)


def test_residual_networks_under_bfloat16_keep_normalisations_and_activations_in_float32():
    config = ModelConfig(frame_shape=(16, 16, 1), latent_dim=3, width=8, depth=1,
                         architecture="residual", mixed_precision="bfloat16")
    for network in (build_residual_encoder(config), build_residual_decoder(config)):
        norms = [layer for layer in network.layers if layer.name.endswith(("norm", "norm0",
                                                                           "norm1"))]
        activations = [layer for layer in network.layers
                       if layer.name.endswith(("_act", "act0", "act1"))]
        convolutions = [layer for layer in network.layers
                        if layer.__class__.__name__ == "Conv2D" and layer.name != "output"]
        assert norms and activations and convolutions
        assert {layer.dtype_policy.name for layer in norms + activations} == {"float32"}
        assert {layer.compute_dtype for layer in convolutions} == {"bfloat16"}
    # Without mixed precision every layer keeps the config's own policy.
    plain = build_residual_decoder(ModelConfig(frame_shape=(16, 16, 1), latent_dim=3, width=8,
                                               depth=1, architecture="residual"))
    assert {layer.dtype_policy.name for layer in plain.layers} == {"float32"}
