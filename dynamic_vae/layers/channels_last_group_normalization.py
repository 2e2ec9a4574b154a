"""Group normalisation written for channels-last feature maps.

Keras's `GroupNormalization` reshapes `(N, H, W, C)` to `(N, H, W, G, C/G)` and reduces over
axes 1, 2 and 4. On the CPU those strided reductions, and the tiles their gradients build,
took about as long as all the convolutions of the residual networks in a training step. This
layer computes the same thing from reductions over `H, W` alone, which keep the channel axis
contiguous:

    m_c = mean_{h,w} x[n, h, w, c]                         per channel, (N, C)
    mu_g = mean_{c in g} m_c                               per group, broadcast back to C
    var_g = mean_{c in g} mean_{h,w} (x - mu_g)^2
    y = (x - mu_g) * gamma_c / sqrt(var_g + epsilon) + beta_c

Every group holds the same number of channels and pixels, so the mean of channel means is the
group mean. The result equals `keras.layers.GroupNormalization`'s (same weights, same epsilon,
statistics in float32) to float32 rounding, in about half the time, forward and backward.

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

    def _group_mean(self, channel_means: tf.Tensor) -> tf.Tensor:
        """`(N, C)` per-channel means -> `(N, 1, 1, C)`: each channel its group's mean."""
        channels = channel_means.shape[-1]
        size = channels // self.groups
        grouped = tf.reshape(channel_means, [-1, self.groups, size])
        means = tf.reduce_mean(grouped, axis=-1, keepdims=True)
        means = tf.broadcast_to(means, tf.shape(grouped))
        return tf.reshape(means, [-1, 1, 1, channels])

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # Statistics in float32, as Keras's layer keeps them (bfloat16 sums overflow).
        x = tf.cast(inputs, tf.float32)
        centred = x - self._group_mean(tf.reduce_mean(x, axis=[1, 2]))
        variance = self._group_mean(tf.reduce_mean(tf.square(centred), axis=[1, 2]))
        scale = tf.math.rsqrt(variance + self.epsilon)
        if self.scale:
            scale = scale * tf.cast(self.gamma, tf.float32)
        outputs = centred * scale
        if self.center:
            outputs = outputs + tf.cast(self.beta, tf.float32)
        return tf.cast(outputs, self.compute_dtype)
