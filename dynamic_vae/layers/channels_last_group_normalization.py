"""Group normalisation written for channels-last feature maps.

Keras's `GroupNormalization` reshapes `(N, H, W, C)` to `(N, H, W, G, C/G)` and reduces over
axes 1, 2 and 4. On the CPU those strided reductions, and the tiles their gradients build,
took about as long as all the convolutions of the residual networks in a training step. This
layer computes the same thing from reductions over `H, W` alone, which keep the channel axis
contiguous:

    d = x - k_g                            k_g: the group's first value (n, 0, 0, first c)
    m_g = mean_{c in g} mean_{h,w} d        per group, from per-channel means
    v_g = mean_{c in g} mean_{h,w} d^2 - m_g^2
    y = d * (gamma_c / sqrt(v_g + epsilon)) + (beta_c - m_g gamma_c / sqrt(v_g + epsilon))

Every group holds the same number of channels and pixels, so the mean of channel means is the
group mean. Shifting by one of the group's own values keeps the statistics exact when the mean
is large against the spread (a float32 mean of values near 1e4 can be off by a fifth of a spread
of 1e-2), and the output is one multiply-add of the shifted values. The result equals
`keras.layers.GroupNormalization`'s (same weights, same epsilon, statistics in float32) to
float32 rounding, in about half its time at the residual networks' sizes, forward and
backward.

Reference:
    Wu & He, "Group Normalization", ECCV 2018.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dynamic_vae")
class ChannelsLastGroupNormalization(keras.layers.GroupNormalization):
    """`keras.layers.GroupNormalization` over the last axis of `(N, H, W, C)` maps.

    Args:
        groups: groups the channels are split into; must divide the channels.
        epsilon: added to the variance.
        **kwargs: the other arguments of `keras.layers.GroupNormalization` (`center`,
            `scale`, initialisers, `name`, `dtype`); `axis` must be -1.

    Example:
    >>> layer = ChannelsLastGroupNormalization(groups=4)
    >>> layer(tf.random.normal([2, 8, 8, 16])).shape
    TensorShape([2, 8, 8, 16])
    """

    def __init__(self, groups: int = 32, epsilon: float = 1e-3, **kwargs) -> None:
        axis = kwargs.pop("axis", -1)
        if axis != -1:
            raise ValueError(f"axis: ChannelsLastGroupNormalization normalises the last axis "
                             f"(-1), got {axis}")
        super().__init__(groups=groups, axis=-1, epsilon=epsilon, **kwargs)

    def build(self, input_shape) -> None:
        if len(input_shape) != 4:
            raise ValueError(f"ChannelsLastGroupNormalization expects (N, H, W, C) inputs, "
                             f"got shape {tuple(input_shape)}")
        super().build(input_shape)

    def _per_group(self, values: tf.Tensor, channels: int) -> tf.Tensor:
        """`(N, G)` per-group values -> `(N, 1, 1, C)`: each channel its group's value."""
        grouped = tf.reshape(values, [-1, self.groups, 1])
        grouped = tf.broadcast_to(grouped, [tf.shape(values)[0], self.groups,
                                            channels // self.groups])
        return tf.reshape(grouped, [-1, 1, 1, channels])

    def _group_mean(self, channel_values: tf.Tensor) -> tf.Tensor:
        """`(N, C)` per-channel values -> `(N, G)` means over each group's channels."""
        channels = channel_values.shape[-1]
        grouped = tf.reshape(channel_values, [-1, self.groups, channels // self.groups])
        return tf.reduce_mean(grouped, axis=-1)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # Statistics in float32, as Keras's layer keeps them (bfloat16 sums overflow).
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        # Each group's first value as a shift: E[d^2] - E[d]^2 of the shifted values d does
        # not cancel when a group's mean is large against its spread, and the result does
        # not depend on the shift, so it carries no gradient.
        shift = self._per_group(tf.stop_gradient(x[:, 0, 0, ::channels // self.groups]),
                                channels)
        shifted = x - shift
        mean = self._group_mean(tf.reduce_mean(shifted, axis=[1, 2]))
        second = self._group_mean(tf.reduce_mean(tf.square(shifted), axis=[1, 2]))
        variance = tf.maximum(second - tf.square(mean), 0.0)
        scale = self._per_group(tf.math.rsqrt(variance + self.epsilon), channels)
        offset = -self._per_group(mean, channels) * scale
        if self.scale:
            gamma = tf.cast(self.gamma, tf.float32)
            scale, offset = scale * gamma, offset * gamma
        if self.center:
            offset = offset + tf.cast(self.beta, tf.float32)
        # One affine map of the shifted values.
        return tf.cast(shifted * scale + offset, self.compute_dtype)
