"""Residual encoder and decoder: the observation network that scales with the frame.

The paper's v1 networks (`dynamic_vae.models.networks`) divide channels by 4 per stage, so at
48x48 their hidden maps have 4 and 16 channels and reconstructions are blurry whatever the
dynamics. These keep the channels wide where the resolution is high:

Encoder: zero-pad to a multiple of 8 -> Conv2D(width) at full resolution -> three levels of
[strided Conv2D (stride 2), `depth` residual blocks], with width, 2 width and 4 width channels
at 1/2, 1/4 and 1/8 of the frame size -> GroupNorm + SiLU -> Flatten -> Dense heads for the
posterior mean and log-variance.

Decoder: Dense -> reshape to (H/8, W/8, 4 width) -> three levels of [`depth` residual blocks,
nearest-neighbour upsample x2, Conv2D] with 4 width, 2 width and width channels -> GroupNorm +
SiLU -> Conv2D to the frame's channels with the output activation -> crop.

With `linear_path` each network also has a linear map beside it: the encoder adds a linear
map of the pixels to the posterior mean, the decoder adds `C x + b` to its output (before the
output activation). That is the observation map of a linear dynamic texture, so training can
start at the linear model fitted in closed form (`dynamic_vae.models.linear_initialisation`)
and the networks learn what it cannot show.

The residual blocks run at 1/2 of the frame size and below, where a convolution costs a quarter
of a full-resolution one or less; full resolution has one convolution on each side.

A residual block is GroupNorm -> SiLU -> Conv2D(3x3) -> GroupNorm -> SiLU -> Conv2D(3x3),
added to its input (through a 1x1 Conv2D where the channels change). The normalisation is
`ChannelsLastGroupNormalization`, Keras's group normalisation computed with channels-last
reductions; networks saved with Keras's own `GroupNormalization` load unchanged. Mixed
precision as in v1: hidden layers compute in the config's `hidden_dtype`, the posterior heads
and the output convolution in float32; under bfloat16 the normalisations and activations
compute in float32 too (`_elementwise_dtype`).
"""

from __future__ import annotations

import keras

from dynamic_vae.layers.channels_last_group_normalization import \
    ChannelsLastGroupNormalization
from dynamic_vae.models.networks import padded_size, padding_to_multiple_of_8

LEVELS = 3


def _elementwise_dtype(hidden: str) -> str:
    """The policy of the normalisations and activations: float32 under bfloat16.

    The convolutions are what bfloat16 speeds up (oneDNN runs them on the CPU's bfloat16
    units); elementwise kernels in bfloat16 convert every element to float32 and back, so a
    bfloat16 SiLU takes about 1.6 times as long as a float32 one (forward and backward,
    `bench/step_parts.py`). The normalisation's statistics are float32 anyway, and the next
    convolution casts its input to bfloat16 once.
    """
    return "float32" if hidden == "mixed_bfloat16" else hidden


def _groups(channels: int) -> int:
    """The largest of 8, 4, 2, 1 that divides `channels`."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def _residual_block(x, channels: int, name: str, dtype: str):
    skip = x
    if x.shape[-1] != channels:
        skip = keras.layers.Conv2D(channels, 1, name=f"{name}_skip", dtype=dtype)(x)
    h = ChannelsLastGroupNormalization(_groups(x.shape[-1]), name=f"{name}_norm0",
                                        dtype=_elementwise_dtype(dtype))(x)
    h = keras.layers.Activation("silu", name=f"{name}_act0",
                                dtype=_elementwise_dtype(dtype))(h)
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv0", dtype=dtype)(h)
    h = ChannelsLastGroupNormalization(_groups(channels), name=f"{name}_norm1",
                                        dtype=_elementwise_dtype(dtype))(h)
    h = keras.layers.Activation("silu", name=f"{name}_act1",
                                dtype=_elementwise_dtype(dtype))(h)
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1", dtype=dtype)(h)
    return keras.layers.Add(name=f"{name}_add", dtype=dtype)([skip, h])


def _level_channels(width: int) -> list[int]:
    """Channels at 1/2, 1/4 and 1/8 of the frame size: width, 2 width, 4 width."""
    return [width * 2 ** level for level in range(LEVELS)]


def build_residual_encoder(config, name: str = "encoder") -> keras.Model:
    """The residual encoder as a functional model `frames -> [mean, log_variance]`.

    Args:
        config: a `ModelConfig` (reads `frame_shape`, `latent_dim`, `encoder_mode`, `width`,
            `depth`, `hidden_dtype`).
        name: the model's name.

    Example:
    >>> encoder = build_residual_encoder(ModelConfig(architecture="residual", width=32))
    """
    height, width, channels = config.frame_shape
    pair = config.encoder_mode == "pair"
    in_channels = 2 * channels if pair else channels
    out_dim = 2 * config.latent_dim if pair else config.latent_dim
    hidden = config.hidden_dtype

    inputs = keras.Input(shape=(height, width, in_channels), name="frames")
    x = keras.layers.ZeroPadding2D(padding_to_multiple_of_8(config.frame_shape), name="pad",
                                   dtype=hidden)(inputs)
    x = keras.layers.Conv2D(config.width, 3, padding="same", name="stem", dtype=hidden)(x)
    for level, level_width in enumerate(_level_channels(config.width)):
        x = keras.layers.Conv2D(level_width, 3, strides=2, padding="same", name=f"down{level}",
                                dtype=hidden)(x)
        for block in range(config.depth):
            x = _residual_block(x, level_width, f"down{level}_block{block}", hidden)
    x = ChannelsLastGroupNormalization(_groups(x.shape[-1]), name="head_norm",
                                        dtype=_elementwise_dtype(hidden))(x)
    x = keras.layers.Activation("silu", name="head_act",
                                dtype=_elementwise_dtype(hidden))(x)
    x = keras.layers.Flatten(name="flatten", dtype=hidden)(x)
    mean = keras.layers.Dense(out_dim, name="mean", dtype="float32")(x)
    log_variance = keras.layers.Dense(out_dim, name="log_variance", dtype="float32")(x)
    if config.linear_path:
        # A linear map of the pixels beside the network: a linear dynamic texture's
        # projection onto its observation map is one setting of it.
        flat = keras.layers.Flatten(name="flatten_frames", dtype="float32")(inputs)
        linear = keras.layers.Dense(out_dim, name="linear_mean", dtype="float32")(flat)
        mean = keras.layers.Add(name="mean_sum", dtype="float32")([mean, linear])
    return keras.Model(inputs, [mean, log_variance], name=name)


def build_residual_decoder(config, name: str = "decoder") -> keras.Model:
    """The residual decoder C as a functional model `(n,) latents -> (H, W, C) frames`.

    Args:
        config: a `ModelConfig` (reads `frame_shape`, `latent_dim`, `width`, `depth`,
            `output_activation`, `hidden_dtype`).
        name: the model's name.
    """
    height, width, channels = config.frame_shape
    hidden = config.hidden_dtype
    level_channels = _level_channels(config.width)
    coarse_h, coarse_w = padded_size(height) // 8, padded_size(width) // 8

    inputs = keras.Input(shape=(config.latent_dim,), name="latents")
    x = inputs
    if config.linear_path and config.decoder_noise > 0:
        # In training the network (not the linear map beside it) reads the state with added
        # noise, so it cannot tie each training state to its own frame: with a few hundred
        # frames it would otherwise memorise them and decode unseen states worse than the
        # linear map alone.
        x = keras.layers.GaussianNoise(config.decoder_noise, name="state_noise",
                                       dtype="float32")(x)
    x = keras.layers.Dense(coarse_h * coarse_w * level_channels[-1], name="dense",
                           dtype=hidden)(x)
    x = keras.layers.Reshape((coarse_h, coarse_w, level_channels[-1]), name="reshape",
                             dtype=hidden)(x)
    upsampled_channels = [*reversed(level_channels[:-1]), config.width]
    for level, level_width in enumerate(reversed(level_channels)):
        for block in range(config.depth):
            x = _residual_block(x, level_width, f"up{level}_block{block}", hidden)
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample{level}",
                                      dtype=hidden)(x)
        x = keras.layers.Conv2D(upsampled_channels[level], 3, padding="same", name=f"up{level}",
                                dtype=hidden)(x)
    x = ChannelsLastGroupNormalization(_groups(x.shape[-1]), name="out_norm",
                                        dtype=_elementwise_dtype(hidden))(x)
    x = keras.layers.Activation("silu", name="out_act",
                                dtype=_elementwise_dtype(hidden))(x)
    if not config.linear_path:
        x = keras.layers.Conv2D(channels, 3, padding="same",
                                activation=config.output_activation, name="output",
                                dtype="float32")(x)
        x = keras.layers.Cropping2D(padding_to_multiple_of_8(config.frame_shape), name="crop",
                                    dtype="float32")(x)
        return keras.Model(inputs, x, name=name)
    x = keras.layers.Conv2D(channels, 3, padding="same", name="output", dtype="float32")(x)
    x = keras.layers.Cropping2D(padding_to_multiple_of_8(config.frame_shape), name="crop",
                                dtype="float32")(x)
    # The observation map of a linear dynamic texture, C x + mean frame, beside the network:
    # the network learns what a linear map of the state cannot show.
    linear = keras.layers.Dense(height * width * channels, name="linear_observation",
                                dtype="float32")(inputs)
    linear = keras.layers.Reshape((height, width, channels), name="linear_frames",
                                  dtype="float32")(linear)
    x = keras.layers.Add(name="frames_sum", dtype="float32")([x, linear])
    x = keras.layers.Activation(config.output_activation, name="output_activation",
                                dtype="float32")(x)
    return keras.Model(inputs, x, name=name)
