"""Structured observation noise: what the decoder leaves out, as a linear texture process.

A decoder mean C(x_t) with a few states reconstructs the coarse frame; the rest of a real
frame (ripples on water, leaves, grain) is the residual e_t = y_t - C(x_t). Treating it as
white pixel noise gives frames that are either blurry (the mean alone) or speckled (i.i.d.
noise). Here the residual is a Gaussian process of its own, fitted in closed form to the
training residuals once the networks are trained:

    e_t = offset + W s_t                     W: (D, r), the residuals' r leading principal
                                             directions scaled by their standard deviations
    s_{t+1} = P s_t + sqrt(1 - P^2) w_t,     w_t ~ N(0, I), s_0 ~ N(0, I)
    P = diag(p_1 .. p_r)                     each direction's lag-one autocorrelation

so every s_t is N(0, I) (the process is stationary), each direction keeps the spatial pattern
and variance it has in the data, and persistent detail persists instead of flickering. A
synthesised frame is then y_t = C(x_t) + e_t. The residual states are independent of x, so
the latent dynamics, the ELBO and every mean prediction are unchanged.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Lag-one autocorrelations are clipped to this, so every direction still mixes (and the
# innovation scale sqrt(1 - p^2) stays above zero).
MAX_PERSISTENCE = 0.99


def sample_texture(basis: tf.Tensor, persistence: tf.Tensor, offset: tf.Tensor,
                   num_sequences: int | tf.Tensor, num_frames: int | tf.Tensor,
                   seed: tf.Tensor) -> tf.Tensor:
    """Residual frames `(num_sequences, num_frames, D)` of the texture process.

    One function for in-process synthesis and the exported signatures, so both draw the same
    numbers from the same stateless seed.

    Args:
        basis: `W` as `(r, D)` (each row a direction times its standard deviation).
        persistence: `(r,)` lag-one autocorrelations `p`.
        offset: `(D,)` the residuals' mean.
        num_sequences: independent sequences `S`.
        num_frames: frames per sequence `T` (>= 1).
        seed: int32 `(2,)` stateless seed.
    """
    rank = tf.shape(basis)[0]
    innovations = tf.random.stateless_normal(
        tf.stack([num_frames, num_sequences, rank]), seed=seed)
    innovation_scale = tf.sqrt(1.0 - tf.square(persistence))

    def step(state: tf.Tensor, innovation: tf.Tensor) -> tf.Tensor:
        return persistence * state + innovation_scale * innovation

    states = tf.scan(step, innovations[1:], initializer=innovations[0])
    states = tf.concat([innovations[:1], states], axis=0)  # (T, S, r)
    residuals = tf.einsum("tsr,rd->std", states, basis)
    return residuals + offset


@keras.saving.register_keras_serializable(package="dynamic_vae")
class ResidualTexture(keras.layers.Layer):
    """The decoder's residual as a stationary linear texture process (see the module).

    Its weights are not trained by gradient descent: `fit` sets them in closed form from the
    residuals of training frames. Until then the basis is zero and `sample` adds nothing
    beyond the zero offset.

    Args:
        rank: `r`, the number of residual directions kept (the fit uses fewer when there are
            fewer training frames).
        frame_shape: `(H, W, C)` of a frame.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
    >>> texture = ResidualTexture(rank=8, frame_shape=(16, 16, 1))
    >>> info = texture.fit(residuals, lag_pairs)            # doctest: +SKIP
    >>> texture.sample(2, 50, seed=np.array([3, 1], "int32")).shape
    TensorShape([2, 50, 16, 16, 1])

    Reference:
    - Doretto, Chiuso, Wu & Soatto, "Dynamic Textures", IJCV 51(2), 2003 (the linear texture
      model this process is a diagonal instance of).
    """

    def __init__(self, rank: int, frame_shape: tuple[int, int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(rank) < 1:
            raise ValueError(f"rank: expected a positive number of directions, got {rank}")
        self.rank = int(rank)
        self.frame_shape = tuple(int(v) for v in frame_shape)
        if len(self.frame_shape) != 3 or min(self.frame_shape) < 1:
            raise ValueError(f"frame_shape: expected (H, W, C), got {frame_shape}")
        size = int(np.prod(self.frame_shape))
        self.basis = self.add_weight(name="basis", shape=(self.rank, size), initializer="zeros",
                                     trainable=False, dtype="float32")
        self.persistence = self.add_weight(name="persistence", shape=(self.rank,),
                                           initializer="zeros", trainable=False,
                                           dtype="float32")
        self.offset = self.add_weight(name="offset", shape=(size,), initializer="zeros",
                                      trainable=False, dtype="float32")
        self.built = True

    def fit(self, residuals: np.ndarray, lag_pairs: np.ndarray, seed: int = 0
            ) -> dict[str, float]:
        """Sets the process from residual frames in closed form.

        Args:
            residuals: `(N, H, W, C)` or `(N, D)` residuals `y - C(x)` of training frames.
            lag_pairs: `(M, 2)` indices `(i, j)` into `residuals` of frames one step apart
                (`j` follows `i`), from which each direction's persistence is estimated; pairs
                never straddle two sequences.
            seed: seed of the randomized SVD.

        Returns:
            `{"rank", "residual_variance", "explained_variance", "mean_persistence"}`: the
            directions kept, the residuals' mean variance per pixel, the share of it the
            directions carry and their variance-weighted mean persistence.
        """
        from dynamic_vae.baseline.linear_dynamic_texture import randomized_svd

        flat = np.asarray(residuals, dtype=np.float64).reshape(len(residuals), -1)
        if flat.shape[1] != self.basis.shape[1]:
            raise ValueError(f"residuals: expected frames of shape {self.frame_shape}, got "
                             f"{np.shape(residuals)[1:]}")
        if len(flat) < 2 or not np.isfinite(flat).all():
            raise ValueError(f"residuals: expected at least 2 finite frames, got {len(flat)}")
        lag_pairs = np.asarray(lag_pairs, dtype=np.int64).reshape(-1, 2)
        offset = flat.mean(axis=0)
        centred = flat - offset
        rank = min(self.rank, len(flat) - 1, flat.shape[1])
        if rank >= min(flat.shape) // 2:
            _, singular, directions = np.linalg.svd(centred, full_matrices=False)
            singular, directions = singular[:rank], directions[:rank]
        else:
            _, singular, directions = randomized_svd(centred, rank, seed=seed)
        coefficients = centred @ directions.T                      # (N, rank)
        variances = np.maximum(coefficients.var(axis=0), 0.0)
        if len(lag_pairs):
            before, after = coefficients[lag_pairs[:, 0]], coefficients[lag_pairs[:, 1]]
            persistence = (before * after).sum(0) / np.maximum((before ** 2).sum(0), 1e-30)
        else:
            persistence = np.zeros(rank)
        persistence = np.clip(persistence, -MAX_PERSISTENCE, MAX_PERSISTENCE)
        basis = np.zeros(self.basis.shape, np.float32)
        basis[:rank] = directions * np.sqrt(variances)[:, None]
        padded = np.zeros(self.rank, np.float32)
        padded[:rank] = persistence
        self.basis.assign(basis)
        self.persistence.assign(padded)
        self.offset.assign(offset.astype(np.float32))
        total = float(np.mean(centred ** 2))
        return {"rank": int(rank), "residual_variance": total,
                "explained_variance": float(variances.sum() / max(total * flat.shape[1],
                                                                  1e-30)),
                "mean_persistence": float((persistence * variances).sum()
                                          / max(variances.sum(), 1e-30))}

    def forecast(self, residuals: np.ndarray, steps: int,
                 previous_residuals: np.ndarray | None = None) -> np.ndarray:
        """The process's mean `steps` frames ahead of observed residuals, in closed form.

        E[e_{t+k} | e_t] = offset + W P^k s_t + rho_k r_t, with s_t the coefficients of
        `e_t - offset` on the directions (its projection: the rows of W are orthogonal) and
        r_t what the projection leaves. A frame the model never saw has a residual partly
        outside the directions (on a clip that drifts away from its training frames, nearly
        all of it), and the training frames say nothing about how that part persists. Given
        the frame before, it is read from the two observed frames: r_t is fitted as an AR(1)
        process, `q = <r_{t-1}, r_t> / <r_{t-1}, r_{t-1}>` clipped to [0, 1] (a least-squares
        slope over every pixel), and `rho_k = q^k`. Without the frame before, it persists as
        the texture does on average: `rho_k = sum_i var_i p_i^k / sum_i var_i` (the
        directions' variance-weighted k-step autocorrelation). So `forecast(e, 0) == e`, and
        with no fitted directions and no frame before, rho_k = 0.

        Args:
            residuals: `(N, H, W, C)` or `(N, D)` observed residuals `y_t - C(x_t)`.
            steps: `k >= 0`.
            previous_residuals: optional residuals `y_{t-1} - C(x_{t-1})` of the frames
                before, shaped as `residuals`.

        Returns:
            `(N, D)` float64 predicted residuals.
        """
        if int(steps) < 0:
            raise ValueError(f"steps: expected k >= 0, got {steps}")
        basis = self.basis.numpy().astype(np.float64)
        variances = (basis ** 2).sum(axis=1)  # a row is its direction times its std
        kept = variances > 0
        basis, variances = basis[kept], variances[kept]
        decay = self.persistence.numpy().astype(np.float64)[kept] ** int(steps)
        offset = self.offset.numpy().astype(np.float64)

        def split(frames: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
            """(coefficients on the directions, remainder outside them) of residuals."""
            centred = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1) - offset
            if centred.shape[1] != offset.shape[0]:
                raise ValueError(f"{name}: expected frames of shape {self.frame_shape}, got "
                                 f"{np.shape(frames)[1:]}")
            coefficients = (centred @ basis.T) / variances
            return coefficients, centred - coefficients @ basis

        coefficients, remainder = split(residuals, "residuals")
        if previous_residuals is not None:
            if np.shape(previous_residuals) != np.shape(residuals):
                raise ValueError(f"previous_residuals: expected the shape of residuals "
                                 f"{np.shape(residuals)}, got {np.shape(previous_residuals)}")
            _, previous = split(previous_residuals, "previous_residuals")
            slope = ((previous * remainder).sum(axis=1)
                     / np.maximum((previous ** 2).sum(axis=1), 1e-30))
            remainder_decay = (np.clip(slope, 0.0, 1.0) ** int(steps))[:, None]
        elif kept.any():
            remainder_decay = float((variances * decay).sum() / variances.sum())
        else:
            remainder_decay = 0.0
        return offset + (coefficients * decay) @ basis + remainder_decay * remainder

    def sample(self, num_sequences: int, num_frames: int, seed: np.ndarray | tf.Tensor
               ) -> tf.Tensor:
        """Residual frames `(num_sequences, num_frames, H, W, C)` from an int32 `(2,)`
        stateless seed."""
        # Values, not the variables: one compiled function serves textures of any rank.
        residuals = _sample_texture(tf.convert_to_tensor(self.basis),
                                    tf.convert_to_tensor(self.persistence),
                                    tf.convert_to_tensor(self.offset),
                                    tf.constant(int(num_sequences)),
                                    tf.constant(int(num_frames)),
                                    tf.convert_to_tensor(seed, tf.int32))
        return tf.reshape(residuals, [int(num_sequences), int(num_frames), *self.frame_shape])

    def call(self, num_frames: Any) -> tf.Tensor:
        raise NotImplementedError("ResidualTexture is sampled with `sample`, not called")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rank": self.rank, "frame_shape": list(self.frame_shape)})
        return config


# The graph the exported signatures trace: compiled in process too, so both run the same
# kernels and a served sequence is the in-process one to the last bit.
_sample_texture = tf.function(sample_texture, reduce_retracing=True)
