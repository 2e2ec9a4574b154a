"""Encoder and decoder networks of the paper's v1 architecture (Sagel & Shen 2018, sec. 5).

Decoder ("observer" C): Dense -> reshape to (H/8, W/8, c0) -> three [nearest-neighbour
upsample x2, Conv2D] stages, channels divided by 4 per stage, the last one with the frame's
channel count and the output activation. With c0 = 64 * channels every hidden layer has about
as many units as the frame has pixels (32x32x1: 4x4x64, 8x8x16, 16x16x4, 32x32x1).

Encoder: the mirror image, Conv2D + ReLU + MaxPool three times with channels growing by 4, then
two Dense heads for the posterior mean and log-variance.

Mixed precision: hidden layers take the config's `hidden_dtype` policy; the posterior heads and
the decoder's output convolution stay float32, so the latent distribution and the pixel loss are
computed in full precision.

Frames of any size: the encoder zero-pads to a multiple of 8 and the decoder crops its output
back, so H and W need not be multiples of 8.
"""

from __future__ import annotations

import keras

from dynamic_vae.config import ModelConfig


def padded_size(size: int) -> int:
    """The smallest multiple of 8 that is >= size."""
    return -(-size // 8) * 8


def _stage_channels(config: ModelConfig) -> list[int]:
    """Channels of the decoder's feature maps from coarse to fine (before the output conv)."""
    c0 = config.decoder_base_channels
    return [c0, max(c0 // 4, 1), max(c0 // 16, 1)]


def padding_to_multiple_of_8(frame_shape: tuple[int, int, int]
                             ) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zero padding (top, bottom), (left, right) that the encoders add and the decoders
    crop, so three halvings of H and W are exact."""
    height, width, _ = frame_shape
    pad_h, pad_w = padded_size(height) - height, padded_size(width) - width
    return ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))


def build_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """Builds the encoder as a functional model.

    In `pair` mode the input is a frame pair stacked on the channel axis, `(H, W, 2C)`, and the
    outputs are the 2n-dim posterior mean and log-variance over z'. In `frame` mode the input is
    one frame `(H, W, C)` and the outputs are n-dim.

    Args:
        config: the model configuration.
        name: the model's name.

    Returns:
        A `keras.Model` mapping frames to `[mean, log_variance]`.
    """
    height, width, channels = config.frame_shape
    pair = config.encoder_mode == "pair"
    in_channels = 2 * channels if pair else channels
    out_dim = 2 * config.latent_dim if pair else config.latent_dim

    inputs = keras.Input(shape=(height, width, in_channels), name="frames")
    hidden = config.hidden_dtype
    x = keras.layers.ZeroPadding2D(padding_to_multiple_of_8(config.frame_shape), name="pad",
                                   dtype=hidden)(inputs)
    for i, filters in enumerate(reversed(_stage_channels(config))):
        x = keras.layers.Conv2D(filters, config.filter_size, padding="same", activation="relu",
                                name=f"conv{i}", dtype=hidden)(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}", dtype=hidden)(x)
    x = keras.layers.Flatten(name="flatten", dtype=hidden)(x)
    mean = keras.layers.Dense(out_dim, name="mean", dtype="float32")(x)
    log_variance = keras.layers.Dense(out_dim, name="log_variance", dtype="float32")(x)
    return keras.Model(inputs, [mean, log_variance], name=name)


def build_decoder(config: ModelConfig, name: str = "decoder") -> keras.Model:
    """Builds the decoder C as a functional model mapping `(n,)` latents to `(H, W, C)` frames.

    Args:
        config: the model configuration.
        name: the model's name.

    Returns:
        A `keras.Model`.
    """
    height, width, channels = config.frame_shape
    stage_channels = _stage_channels(config)
    coarse_h, coarse_w = padded_size(height) // 8, padded_size(width) // 8

    hidden = config.hidden_dtype
    inputs = keras.Input(shape=(config.latent_dim,), name="latents")
    map_units = coarse_h * coarse_w * stage_channels[0]
    if config.dense_units:
        # The hidden path adds to the paper's dense layer before its ReLU, and its output
        # starts at zero: a decoder grown from the paper's (a later stage's `dense_units`)
        # starts as the same function.
        hidden_units = keras.layers.Dense(config.dense_units, activation="relu",
                                          name="hidden", dtype=hidden)(inputs)
        x = keras.layers.Add(name="add_hidden", dtype=hidden)([
            keras.layers.Dense(map_units, name="dense", dtype=hidden)(inputs),
            keras.layers.Dense(map_units, use_bias=False, kernel_initializer="zeros",
                               name="hidden_out", dtype=hidden)(hidden_units)])
        x = keras.layers.ReLU(name="dense_relu", dtype=hidden)(x)
    else:
        x = keras.layers.Dense(map_units, activation="relu", name="dense", dtype=hidden)(inputs)
    x = keras.layers.Reshape((coarse_h, coarse_w, stage_channels[0]), name="reshape",
                             dtype=hidden)(x)
    out_channels = stage_channels[1:] + [channels]
    for i, filters in enumerate(out_channels):
        last = i == len(out_channels) - 1
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample{i}",
                                      dtype=hidden)(x)
        x = keras.layers.Conv2D(filters, config.filter_size, padding="same",
                                activation=config.output_activation if last else "relu",
                                name=f"conv{i}", dtype="float32" if last else hidden)(x)
    x = keras.layers.Cropping2D(padding_to_multiple_of_8(config.frame_shape), name="crop",
                                dtype="float32")(x)
    return keras.Model(inputs, x, name=name)
