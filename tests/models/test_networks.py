import numpy as np
import pytest

from dynamic_vae.config import ModelConfig
from dynamic_vae.models import build_decoder, build_encoder


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
