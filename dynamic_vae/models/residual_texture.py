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
the latent dynamics and the ELBO are unchanged.

Forecasting a frame the model never saw is a different question. Its residual is larger than
a training frame's and mostly new detail, which persists far longer than the training
residuals' P says (those are what is left once the directions have absorbed each training
frame). So the mean forecast scales the whole residual by the *held-out persistence* rho_k:

    E[e_{t+k} | e_t, e_{t-1}] = offset + rho_k (e_t - offset),     rho_k = clip(h_k q / h_1, 0, 1)
    q = <e_{t-1} - offset, e_t - offset> / |e_{t-1} - offset|^2

where h_k is the lag-k autocorrelation of the residuals of frames left out of the fit, measured
by blocked cross-validation on the training frames (`heldout_persistence`), and q, clipped to
[0, 1], the pair's own lag-one slope that scales h to this window.

The same cross-validation measures how far an unseen frame's state moves as the dynamics
predict (`heldout_shrinkage`): the mean forecast of the state k frames ahead keeps the share
lambda_k of the predicted change,

    x_{t+k} = x_t + lambda_k (A^k x_t - x_t),

so a model forecasts frames it never saw with the coarse dynamics and the fine detail each
calibrated on frames its fit left out. The texture stores both curves; every forecaster that
adds the texture's forecast also applies the shrinkage (`ResidualTexture.shrunk_forecast`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Lag-one autocorrelations are clipped to this, so every direction still mixes (and the
# innovation scale sqrt(1 - p^2) stays above zero).
MAX_PERSISTENCE = 0.99
# Lags of the held-out persistence curve a texture stores; longer forecasts continue it
# geometrically.
HELDOUT_LAGS = 16
# Blocks of the cross-validation that measures it: each leaves out about a quarter of the
# frames, about what a held-out tail of a fifth leaves out.
CROSS_VALIDATION_FOLDS = 4


def _cross_validation_folds(sequences: list[np.ndarray], rank: int, folds: int, seed: int
                            ) -> Iterator[tuple[np.ndarray, np.ndarray, list[np.ndarray],
                                                list[np.ndarray]]]:
    """For each block of the blocked cross-validation, `(mean, directions, held, rest)`: the
    mean frame and `rank` principal directions `(r, D)` fitted to the other blocks' frames,
    the block's pieces and the other blocks' pieces (flat float64 `(T_i, D)` each).

    The frames are cut into `folds` blocks: whole sequences when there are at least `folds`
    of them, else contiguous pieces of each."""
    from dynamic_vae.baseline.linear_dynamic_texture import randomized_svd

    flat = [np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in sequences]
    if len(flat) >= folds:
        pieces = [[i for i in range(len(flat)) if i % folds == f] for f in range(folds)]
        blocks = [[flat[i] for i in piece] for piece in pieces]
    else:
        split = [np.array_split(s, folds) for s in flat]
        blocks = [[parts[f] for parts in split if len(parts[f])] for f in range(folds)]
    for held in range(folds):
        rest = [b for f in range(folds) if f != held for b in blocks[f]]
        if not blocks[held] or not rest:
            continue
        fitted = np.concatenate(rest)
        mean = fitted.mean(axis=0)
        keep = min(int(rank), len(fitted) - 1, fitted.shape[1])
        directions = (randomized_svd(fitted - mean, keep, seed=seed)[2] if keep > 0
                      else np.zeros((0, fitted.shape[1])))
        yield mean, directions, blocks[held], rest


def _check_curve_arguments(name: str, folds: int, lags: int, rank: int) -> None:
    if int(folds) < 2 or int(lags) < 1 or int(rank) < 1:
        raise ValueError(f"{name}: expected folds >= 2, lags >= 1 and rank >= 1, got "
                         f"folds={folds}, lags={lags}, rank={rank}")


def heldout_persistence(sequences: list[np.ndarray], rank: int,
                        folds: int = CROSS_VALIDATION_FOLDS, lags: int = HELDOUT_LAGS,
                        seed: int = 0) -> np.ndarray:
    """`(lags,)` lag-k autocorrelations, k = 1..lags, of the residuals of unseen frames.

    Blocked cross-validation: the frames are cut into `folds` blocks (whole sequences when
    there are at least `folds` of them, else contiguous pieces of each); for each block, the
    mean frame and `rank` principal directions are fitted to the other blocks, and the
    residual of every frame of the block (what that linear reconstruction leaves out) is
    correlated with the residuals 1..lags frames later in the same piece. Sums over all
    blocks give each lag's autocorrelation, clipped to [0, 1]. Lags no block is long enough
    for continue the measured curve geometrically (its mean decay per lag).

    Args:
        sequences: `(T_i, ...)` consecutive frames, one array per sequence (any affine pixel
            range: the autocorrelation does not depend on it).
        rank: directions of the linear reconstruction (the model's state size).
        folds: blocks of the cross-validation (>= 2).
        lags: length of the curve.
        seed: seed of the randomized SVD.

    Returns:
        float64 `(lags,)`; all zeros when no block has two consecutive frames.

    Example:
    >>> heldout_persistence([frames], rank=10)[:3]     # doctest: +SKIP
    array([0.77, 0.62, 0.53])
    """
    _check_curve_arguments("heldout_persistence", folds, lags, rank)
    return heldout_curves(sequences, rank, folds, lags, seed, shrinkage=False)[0]


def heldout_shrinkage(sequences: list[np.ndarray], rank: int,
                      folds: int = CROSS_VALIDATION_FOLDS, lags: int = HELDOUT_LAGS,
                      seed: int = 0) -> np.ndarray:
    """`(lags,)`: how much of the dynamics' predicted change of an unseen frame's state
    holds k = 1..lags frames ahead.

    The forecast `x_t + lambda_k (A^k x_t - x_t)` moves the state by the share `lambda_k` of
    the change its dynamics predict: 1 is the dynamics' own forecast, 0 keeps the last state.
    On a clip whose unseen frames drift from the training frames (a fountain's spray, the
    sea), a stationary A pulls their states back to the training mean faster than they go,
    and part of its change is better left out. The same blocked cross-validation as
    `heldout_persistence`: for each block, the mean frame, `rank` principal directions and
    the least-squares transition of their states (consecutive frames of the other blocks)
    (singular values clipped to 1, as the linear baseline's) are fitted without it; over the
    block's states, `lambda_k` is the least-squares share

        lambda_k = clip(sum <d_t, x_{t+k} - x_t> / sum |d_t|^2, 0, 1),   d_t = (A^k - I) x_t

    summed over all blocks. The linear dynamic texture fitted without the block stands for
    any model's dynamics on the same frames. Lags no block is long enough for keep the last
    measured share; with none measured, every share is 1.

    Args:
        sequences: `(T_i, ...)` consecutive frames, one array per sequence.
        rank: the state size (the model's).
        folds: blocks of the cross-validation (>= 2).
        lags: length of the curve.
        seed: seed of the randomized SVD.

    Returns:
        float64 `(lags,)` in [0, 1].

    Example:
    >>> heldout_shrinkage([frames], rank=10)[:3]     # doctest: +SKIP
    array([0.48, 0.49, 0.49])
    """
    _check_curve_arguments("heldout_shrinkage", folds, lags, rank)
    return heldout_curves(sequences, rank, folds, lags, seed)[1]


def heldout_curves(sequences: list[np.ndarray], rank: int,
                   folds: int = CROSS_VALIDATION_FOLDS, lags: int = HELDOUT_LAGS,
                   seed: int = 0, shrinkage: bool = True
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """`(heldout_persistence, heldout_shrinkage)` of the same frames from one pass over the
    cross-validation's blocks, each block's principal directions computed once.

    Args:
        sequences, rank, folds, lags, seed: as for `heldout_persistence`.
        shrinkage: also measure the shares (else the second value is `None`).

    Returns:
        float64 `(lags,)` curves, as the two functions return them.

    Example:
    >>> persistence, shares = heldout_curves([frames], rank=10)     # doctest: +SKIP
    """
    _check_curve_arguments("heldout_curves", folds, lags, rank)
    products, norms = np.zeros(lags + 1), np.zeros(lags + 1)
    share_products, share_norms = np.zeros(lags + 1), np.zeros(lags + 1)
    for mean, directions, held, rest in _cross_validation_folds(sequences, rank, folds, seed):
        for piece in held:
            centred = piece - mean
            residual = centred - (centred @ directions.T) @ directions
            for k in range(1, min(lags, len(piece) - 1) + 1):
                products[k] += float((residual[:-k] * residual[k:]).sum())
                norms[k] += float((residual[:-k] ** 2).sum())
        states = [(piece - mean) @ directions.T for piece in rest if len(piece) > 1]
        if not shrinkage or not states or directions.shape[0] == 0:
            continue
        before = np.concatenate([x[:-1] for x in states])
        after = np.concatenate([x[1:] for x in states])
        transition = np.linalg.lstsq(before, after, rcond=None)[0].T
        # Singular values clipped to 1, as the linear baseline's: a few frames per block can
        # give an explosive A, whose (A^k - I) x would say nothing of any model's dynamics.
        left, singular, right = np.linalg.svd(transition)
        transition = (left * np.minimum(singular, 1.0)) @ right
        for piece in held:
            x = (piece - mean) @ directions.T
            power = np.eye(len(transition))
            for k in range(1, min(lags, len(x) - 1) + 1):
                power = transition @ power
                change = x[:-k] @ (power - np.eye(len(transition))).T
                share_products[k] += float((change * (x[k:] - x[:-k])).sum())
                share_norms[k] += float((change ** 2).sum())
    measured = int(np.sum(norms[1:] > 0))
    persistence = (continued_curve(np.clip(products[1:measured + 1] / norms[1:measured + 1],
                                           0.0, 1.0), lags)
                   if measured else np.zeros(lags))
    if not shrinkage:
        return persistence, None
    measured = int(np.sum(share_norms[1:] > 0))
    shares = np.ones(lags)
    if measured:
        shares[:measured] = np.clip(share_products[1:measured + 1]
                                    / share_norms[1:measured + 1], 0.0, 1.0)
        shares[measured:] = shares[measured - 1]
    return persistence, shares


def continued_curve(measured: np.ndarray, lags: int) -> np.ndarray:
    """`(lags,)`: an autocorrelation curve measured at lags 1..m, continued geometrically.

    Lags past m decay at the measured curve's mean rate per lag, `(h_m / h_1)^(1 / (m - 1))`
    (`h_1` per lag when only lag 1 is measured), clipped to [0, 1]; a longer curve is cut.

    Args:
        measured: `(m,)` values in [0, 1], m >= 1.
        lags: length of the result.

    Returns:
        float64 `(lags,)`.
    """
    measured = np.asarray(measured, dtype=np.float64).reshape(-1)[:lags]
    count = len(measured)
    curve = np.zeros(lags)
    curve[:count] = measured
    if 0 < count < lags:
        first, last = measured[0], measured[-1]
        rate = (last / first) ** (1.0 / (count - 1)) if count > 1 and first > 0 else first
        curve[count:] = last * np.clip(rate, 0.0, 1.0) ** np.arange(1, lags - count + 1)
    return curve


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

    def step(state: tf.Tensor, inputs: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        innovation, first = inputs
        return tf.where(first, innovation, persistence * state + innovation_scale * innovation)

    # Every frame is scanned, the first taking its innovation as it is: a scan over the frames
    # after the first would be empty for one frame, and a served graph, whose number of
    # sequences is unknown, cannot stack an empty scan.
    first = tf.equal(tf.range(tf.shape(innovations)[0]), 0)
    states = tf.scan(step, (innovations, first),
                     initializer=tf.zeros_like(innovations[0]))  # (T, S, r)
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
        self.heldout_persistence = self.add_weight(
            name="heldout_persistence", shape=(HELDOUT_LAGS,), initializer="zeros",
            trainable=False, dtype="float32")
        self.heldout_shrinkage = self.add_weight(
            name="heldout_shrinkage", shape=(HELDOUT_LAGS,), initializer="ones",
            trainable=False, dtype="float32")
        self.built = True

    def load_own_variables(self, store: Any) -> None:
        """Loads the weights; a texture saved with three weights (no held-out curve) loads
        with a zero curve, and `forecast` then uses its directions' own persistence; one
        saved without the shrinkage curve (three or four weights) loads with every share 1,
        the dynamics' own forecast.

        Args:
            store: the weights Keras read from a `.keras` or `.weights.h5` file.
        """
        variables = [self.basis, self.persistence, self.offset, self.heldout_persistence,
                     self.heldout_shrinkage]
        saved = len(store.keys())
        if saved in (len(variables) - 2, len(variables) - 1):
            for index, variable in enumerate(variables[:saved]):
                variable.assign(store[str(index)])
            if saved == len(variables) - 2:
                self.heldout_persistence.assign(np.zeros(HELDOUT_LAGS, np.float32))
            self.heldout_shrinkage.assign(np.ones(HELDOUT_LAGS, np.float32))
            return
        super().load_own_variables(store)

    def fit(self, residuals: np.ndarray, lag_pairs: np.ndarray, seed: int = 0,
            heldout: np.ndarray | None = None,
            shrinkage: np.ndarray | None = None) -> dict[str, Any]:
        """Sets the process from residual frames in closed form.

        Args:
            residuals: `(N, H, W, C)` or `(N, D)` residuals `y - C(x)` of training frames.
            lag_pairs: `(M, 2)` indices `(i, j)` into `residuals` of frames one step apart
                (`j` follows `i`), from which each direction's persistence is estimated; pairs
                never straddle two sequences.
            seed: seed of the randomized SVD.
            heldout: the held-out persistence curve `forecast` uses (`heldout_persistence`
                of the training frames; a shorter curve is continued geometrically, a longer
                one cut at `HELDOUT_LAGS`); `None` leaves it zero, and `forecast` then uses
                the directions' own.
            shrinkage: the shares of the dynamics' predicted change that hold
                (`heldout_shrinkage` of the training frames; a shorter curve keeps its last
                value, a longer one is cut); `None` stores every share 1.

        Returns:
            `{"rank", "residual_variance", "explained_variance", "mean_persistence",
            "heldout_persistence", "heldout_shrinkage"}`: the directions kept, the
            residuals' mean variance per pixel, the share of it the directions carry, their
            variance-weighted mean persistence, and the held-out curves stored.
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
        curve = np.zeros(HELDOUT_LAGS, np.float32)
        if heldout is not None:
            heldout = np.asarray(heldout, dtype=np.float64).reshape(-1)
            if len(heldout) == 0 or not np.all(np.isfinite(heldout)) or heldout.min() < 0 or (
                    heldout.max() > 1):
                raise ValueError(f"heldout: expected autocorrelations in [0, 1], got "
                                 f"{heldout.tolist()}")
            # A shorter curve goes on as `persistence_at` continues the stored one.
            curve = continued_curve(heldout, HELDOUT_LAGS).astype(np.float32)
        shares = np.ones(HELDOUT_LAGS, np.float32)
        if shrinkage is not None:
            shrinkage = np.asarray(shrinkage, dtype=np.float64).reshape(-1)[:HELDOUT_LAGS]
            if len(shrinkage) == 0 or not np.all(np.isfinite(shrinkage)) or (
                    shrinkage.min() < 0 or shrinkage.max() > 1):
                raise ValueError(f"shrinkage: expected shares in [0, 1], got "
                                 f"{shrinkage.tolist()}")
            shares[:len(shrinkage)] = shrinkage
            shares[len(shrinkage):] = shrinkage[-1]
        self.basis.assign(basis)
        self.persistence.assign(padded)
        self.offset.assign(offset.astype(np.float32))
        self.heldout_persistence.assign(curve)
        self.heldout_shrinkage.assign(shares)
        total = float(np.mean(centred ** 2))
        return {"rank": int(rank), "residual_variance": total,
                "explained_variance": float(variances.sum() / max(total * flat.shape[1],
                                                                  1e-30)),
                "mean_persistence": float((persistence * variances).sum()
                                          / max(variances.sum(), 1e-30)),
                "heldout_persistence": [round(float(v), 4) for v in curve],
                "heldout_shrinkage": [round(float(v), 4) for v in shares]}

    def shrinkage_at(self, steps: int) -> float:
        """lambda_k: the share of the dynamics' predicted change of the state that a
        forecast `steps` frames ahead keeps, `x_t + lambda_k (A^k x_t - x_t)`.

        The stored curve at lag k; past `HELDOUT_LAGS`, its last value. 1 at k = 0.

        Args:
            steps: `k >= 0`.

        Returns:
            lambda_k in [0, 1].
        """
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps: expected k >= 0, got {steps}")
        return float(self._shares(steps))

    def shrunk_forecast(self, last_states: np.ndarray | tf.Tensor,
                        forecast_states: np.ndarray | tf.Tensor,
                        steps: int | np.ndarray | tf.Tensor) -> tf.Tensor:
        """The state forecast that keeps the held-out share of the predicted change:

            m_T + lambda_k (A^k m_T - m_T)

        from the last state m_T and the dynamics' own forecast A^k m_T. Why: an unseen
        frame's state does not move as far as the dynamics fitted to the training frames
        predict (they pull it back towards the training frames faster than it goes), and
        lambda_k (`shrinkage_at`) is the share of that change that persisted on frames the
        fit left out. Every forecaster that adds the texture's residual forecast moves its
        states with this, in process (numpy, eagerly) and in the served graph alike.

        Args:
            last_states: `(..., n)` the states m_T the forecasts start from, broadcast
                against `forecast_states` (one `(n,)` state for the `(K, n)` forecasts of
                one clip, or `(N, n)` states for `(N, n)` forecasts).
            forecast_states: `(..., n)` the dynamics' forecasts A^k m_T.
            steps: the lag k >= 0 of the forecasts: one for every row (an int), or one per
                row, shaped as `forecast_states` without its last axis (`tf.range(1, K + 1)`
                for the K frames after a clip). Past `HELDOUT_LAGS` the last share holds;
                k = 0 keeps the forecast as it is.

        Returns:
            float64 tensor of the broadcast shape `(..., n)` (`.numpy()` for the array).

        Example:
        >>> rolled = states @ np.linalg.matrix_power(a, 3).T            # doctest: +SKIP
        >>> texture.shrunk_forecast(states, rolled, 3).numpy()          # doctest: +SKIP
        """
        shares = self._shares(steps)[..., tf.newaxis]
        last = tf.cast(last_states, tf.float64)
        return last + shares * (tf.cast(forecast_states, tf.float64) - last)

    def _shares(self, steps: int | np.ndarray | tf.Tensor) -> tf.Tensor:
        """float64 lambda_k for lags k >= 0 of any shape: 1 at k = 0, the stored curve at
        1..`HELDOUT_LAGS`, its last value beyond."""
        shares = tf.concat([tf.ones([1], tf.float64),
                            tf.cast(self.heldout_shrinkage.value, tf.float64)], 0)
        return tf.gather(shares, tf.minimum(steps, HELDOUT_LAGS))

    def persistence_at(self, steps: int) -> float:
        """h_k: how much of an unseen frame's residual is left `steps` frames later.

        The stored held-out curve at lag k, continued geometrically beyond `HELDOUT_LAGS`.
        A zero `h_1` means no curve (fitted without `heldout`, or saved with three weights):
        the directions' variance-weighted k-step autocorrelation,
        `sum_i var_i p_i^k / sum_i var_i`, stands in (0 with no directions).

        Args:
            steps: `k >= 0`.

        Returns:
            h_k in [0, 1]; `persistence_at(0) == 1`.
        """
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps: expected k >= 0, got {steps}")
        if steps == 0:
            return 1.0
        curve = self.heldout_persistence.numpy().astype(np.float64)
        if curve[0] > 0:
            return float(continued_curve(curve, max(steps, len(curve)))[steps - 1])
        variances = (self.basis.numpy().astype(np.float64) ** 2).sum(axis=1)
        if not (variances > 0).any():
            return 0.0
        decay = self.persistence.numpy().astype(np.float64) ** steps
        return float((variances * decay).sum() / variances.sum())

    def forecast(self, residuals: np.ndarray, steps: int,
                 previous_residuals: np.ndarray | None = None) -> np.ndarray:
        """The mean residual `steps` frames ahead of observed residuals (see the module).

        `offset + rho_k (e_t - offset)`. Without the frame before, rho_k = h_k
        (`persistence_at`); with it, rho_k = clip(h_k q / h_1, 0, 1), where q is the least-
        squares slope from the centred residual of the frame before to this frame's
        (`<e_{t-1}, e_t> / <e_{t-1}, e_{t-1}>`, over every pixel, clipped to [0, 1]): a
        window whose detail persists more than the clip's on average keeps more of it. With
        neither a curve nor directions (h_1 = 0) and the frame before, rho_k = q^k. So
        `forecast(e, 0) == e`.

        Args:
            residuals: `(N, H, W, C)` or `(N, D)` observed residuals `y_t - C(x_t)`.
            steps: `k >= 0`.
            previous_residuals: optional residuals `y_{t-1} - C(x_{t-1})` of the frames
                before, shaped as `residuals`.

        Returns:
            `(N, D)` float64 predicted residuals.
        """
        decay = self.persistence_at(steps)
        offset = self.offset.numpy().astype(np.float64)

        def centre(frames: np.ndarray, name: str) -> np.ndarray:
            centred = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1) - offset
            if centred.shape[1] != offset.shape[0]:
                raise ValueError(f"{name}: expected frames of shape {self.frame_shape}, got "
                                 f"{np.shape(frames)[1:]}")
            return centred

        current = centre(residuals, "residuals")
        if int(steps) == 0:
            return current + offset
        if previous_residuals is None:
            return offset + decay * current
        if np.shape(previous_residuals) != np.shape(residuals):
            raise ValueError(f"previous_residuals: expected the shape of residuals "
                             f"{np.shape(residuals)}, got {np.shape(previous_residuals)}")
        previous = centre(previous_residuals, "previous_residuals")
        slope = np.clip((previous * current).sum(axis=1)
                        / np.maximum((previous ** 2).sum(axis=1), 1e-30), 0.0, 1.0)
        first = self.persistence_at(1)
        scale = (np.clip(decay * slope / first, 0.0, 1.0) if first > 0
                 else slope ** int(steps))
        return offset + scale[:, None] * current

    def forecast_tensor(self, current: tf.Tensor, previous: tf.Tensor,
                        num_steps: int | tf.Tensor) -> tf.Tensor:
        """`forecast` in graph, for one frame and every k = 1..num_steps at once.

        What the Kalman `forecast` (Python and served) adds to its decoded means. It computes
        the same numbers as `forecast(current, k, previous)` for each k.

        Args:
            current: the residual `y_T - C(x_T)` of the last frame, any shape of D values.
            previous: the residual of the frame before it, shaped as `current`.
            num_steps: K >= 1.

        Returns:
            float32 `(K, D)`: the mean residuals of frames T + 1 .. T + K.
        """
        offset, centred, scale = self._forecast_parts(current, previous, num_steps)
        return tf.cast(offset + scale[:, tf.newaxis] * centred, tf.float32)

    def sample_forecast_tensor(self, current: tf.Tensor, previous: tf.Tensor,
                               num_steps: int | tf.Tensor, num_samples: int | tf.Tensor,
                               seed: tf.Tensor, known: bool | tf.Tensor = True) -> tf.Tensor:
        """Residuals of sampled futures: the mean forecast plus the detail still to come.

        Frame T + k of sample s gets `offset + rho_k (e_T - offset) + sqrt(1 - rho_k^2) u`,
        with `rho_k` the scale of `forecast_tensor` and `u` the centred frame k of a draw of
        the texture process (`sample_texture`). Each frame then has the forecast as its mean
        and, as in a stationary Gaussian process with correlation rho_k to frame T, the
        texture's own covariance times `1 - rho_k^2` about it: far ahead, a future is a fresh
        draw of the texture; one step ahead it is mostly the last frame's detail. Without a
        known residual (`known` false: a missing frame), every rho_k is 0 and the sample is
        the texture's draw alone.

        Args:
            current: the residual `y_T - C(x_T)` of the last frame, any shape of D values.
            previous: the residual of the frame before it, shaped as `current`.
            num_steps: K >= 1.
            num_samples: S >= 0.
            seed: int32 `(2,)` stateless seed of the texture draws.
            known: whether the two residuals were observed.

        Returns:
            float32 `(S, K, D)`.
        """
        offset, centred, scale = self._forecast_parts(current, previous, num_steps)
        scale = scale * tf.cast(known, scale.dtype)
        draws = tf.cast(sample_texture(self.basis.value, self.persistence.value,
                                       self.offset.value, num_samples,
                                       tf.cast(num_steps, tf.int32), seed), offset.dtype)
        spread = tf.sqrt(tf.maximum(1.0 - tf.square(scale), 0.0))
        mean = offset + scale[:, tf.newaxis] * centred                      # (K, D)
        return tf.cast(mean + spread[:, tf.newaxis] * (draws - offset), tf.float32)

    def _forecast_parts(self, current: tf.Tensor, previous: tf.Tensor,
                        num_steps: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """float64 `offset (D,)`, centred `e_T - offset (D,)` and `rho_k (K,)`."""
        dtype = tf.float64
        offset = tf.cast(self.offset.value, dtype)
        centred = tf.cast(tf.reshape(current, [-1]), dtype) - offset
        before = tf.cast(tf.reshape(previous, [-1]), dtype) - offset
        steps = tf.range(1, tf.cast(num_steps, tf.int32) + 1)
        lags = tf.cast(steps, dtype)
        # As `persistence_at`: float64, so the geometric tail and the fallback's powers
        # round as numpy's do and served forecasts match in-process ones.
        curve = tf.cast(self.heldout_persistence.value, dtype)
        last = float(HELDOUT_LAGS)
        rate = tf.clip_by_value(tf.math.divide_no_nan(curve[-1], curve[0])
                                ** (1.0 / (last - 1.0)), 0.0, 1.0)
        stored = tf.where(lags <= last,
                          tf.gather(curve, tf.minimum(steps, HELDOUT_LAGS) - 1),
                          curve[-1] * rate ** tf.maximum(lags - last, 0.0))
        # Without a curve, the directions' variance-weighted k-step autocorrelation; p^k as a
        # running product, exact for negative p.
        variances = tf.reduce_sum(tf.square(tf.cast(self.basis.value, dtype)), axis=1)
        persistence = tf.cast(self.persistence.value, dtype)
        powers = tf.math.cumprod(tf.tile(persistence[tf.newaxis], [tf.size(steps), 1]),
                                 axis=0)
        fallback = tf.math.divide_no_nan(tf.linalg.matvec(powers, variances),
                                         tf.reduce_sum(variances))
        decay = tf.where(curve[0] > 0, stored, fallback)
        slope = tf.clip_by_value(tf.math.divide_no_nan(tf.reduce_sum(before * centred),
                                                       tf.reduce_sum(before * before)),
                                 0.0, 1.0)
        scale = tf.where(decay[0] > 0,
                         tf.clip_by_value(tf.math.divide_no_nan(decay * slope, decay[0]),
                                          0.0, 1.0),
                         slope ** lags)
        return offset, centred, scale

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
