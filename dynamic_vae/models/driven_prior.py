"""Train the innovation-driven part of the posterior to look as synthesis draws it.

Synthesis draws x_{t+1} = A x_t + B v_t. The directions B B^T leaves alone (its null space:
the locked planes of a periodic run) carry the phase, which the dynamics alone decide; the
directions the innovations drive carry what changes from frame to frame (a digit's
handwriting). Synthesis draws those from the stationary prior whatever the phase:

    s_t = Q_s x_t ~ N(0, Q_s),   independent of   p_t = Q_p x_t,

with Q_p and Q_s the orthogonal projections onto the eigenvectors of B B^T below and above
`PERSISTENT_THRESHOLD` (A A^T + B B^T = I makes the stationary covariance I). The decoder,
though, is trained on posterior states. If the encoder also writes which digit a frame
shows into s_t, and gives s_t another spread than the prior's, the decoder learns to read
the digit there and meets states it never saw: synthesis then writes random digits. Two
measures of the mismatch, which `ModelConfig.driven_prior_weight` adds to the loss:

- `phase_dependence`: the fraction of the variance of s over a batch of posterior means
  that p explains, E[s | p] estimated by a Gaussian kernel smoother on p (leaving each state
  out of its own estimate):

      d = sum_i ||E[s | p_i] - mean(s)||^2 / sum_i ||s_i - mean(s)||^2   in [0, 1];

- `driven_moment_mismatch`: ||mu||^2 + ||C - Q_s||_F^2, with mu and C the mean and covariance
  of s over the batch's posterior draws.

`ModelConfig.driven_mmd_weight` adds a third, which matches the whole distribution of s given
p, not only its moments:

- `driven_mmd`: the maximum mean discrepancy between the posterior draws (p_i, s_i) and the
  same phases with s redrawn from N(0, Q_s), under a product kernel on p and s. A hand the
  encoder gives only to one digit, with the right mean and spread over all digits, is one
  synthesis then draws at every phase: a closed loop that only 6s have, drawn at the phase
  of 8, reads as 6 or 0.

`ModelConfig.frame_mmd_weight` compares frames rather than states:

- `frame_mmd`: the maximum mean discrepancy between frames decoded from Q_p x + Q_s v (a
  posterior's phase, a hand drawn as synthesis draws it) and the real frames of the same
  states, under a product kernel on the phase and the pixels. The terms above shape the
  states the decoder reads; this one trains the decoder on what synthesis shows, so the
  hands it draws are spread as the real ones, not drawn towards a phase's average digit
  (its phase kernel is wide: it leans towards, rather than keeps to, one phase).

The read-back term (`ModelConfig.readback_weight`) trains the decoder on the states
synthesis visits: the encoder, its weights held, must read a frame decoded from Q_p x + Q_s v
at the phase of x. `readback_error` charges the squared distance of the reading;
`readback_confusion` (`readback_loss="cross_entropy"`) the cross-entropy of the right phase
against the period's others, so a new hand read a little off costs little and one read near
another phase costs much.

Reference:
- Nadaraya, "On Estimating Regression", 1964 (the kernel smoother).
- Zhao, Song & Ermon, "InfoVAE: Balancing Learning and Inference in Variational
  Autoencoders", AAAI 2019 (matching the aggregate posterior to the prior).
- Gretton, Borgwardt, Rasch, Schoelkopf & Smola, "A Kernel Two-Sample Test", JMLR 2012 (the
  unbiased maximum mean discrepancy).
"""

from __future__ import annotations

import tensorflow as tf

# The kernel on the persistent parts is this fraction of their median pairwise distance
# wide: narrow enough to tell the phases of a 10-cycle apart on its rings.
PHASE_BANDWIDTH = 0.2

# Eigenvalues of B B^T below this mark a direction the innovations do not drive. Locked
# planes have exactly 0; a direction with modulus 0.99 has 0.02.
PERSISTENT_THRESHOLD = 0.01

_EPSILON = 1e-12

# Squared distances to the phases are divided by this fraction of the squared step to the
# next phase in time (A x - x). On a plane locked at the fundamental an exact reading then
# costs about 0.01 nats; where a higher harmonic is locked, other phases lie nearer than the
# next in time, and an exact reading costs about 0.3 (a 5-cycle turning 144 degrees a frame).
READBACK_TEMPERATURE = 0.2


def squared_distances(u: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """`(m, k)`: `|u_i - v_j|^2` between the rows of `u` `(m, d)` and `v` `(k, d)`, from one
    matrix product (floored at 0 against rounding)."""
    return tf.maximum(tf.reduce_sum(u * u, 1)[:, None] + tf.reduce_sum(v * v, 1)[None, :]
                      - 2.0 * tf.matmul(u, v, transpose_b=True), 0.0)


def innovation_projections(noise_matrix: tf.Tensor, threshold: float = PERSISTENT_THRESHOLD
                           ) -> tuple[tf.Tensor, tf.Tensor]:
    """`(Q_p, Q_s)`, `(n, n)` orthogonal projections onto the directions the innovations
    `B v` leave alone (eigenvalues of B B^T below `threshold`) and onto the rest.

    No gradient flows to B through them: they say which directions the terms look at, not
    something to train B towards (and the eigenvectors of repeated eigenvalues, such as a
    locked period's zeros, have no gradient)."""
    noise_matrix = tf.stop_gradient(tf.cast(noise_matrix, tf.float64))
    covariance = tf.matmul(noise_matrix, noise_matrix, transpose_b=True)
    eigenvalues, eigenvectors = tf.linalg.eigh(0.5 * (covariance + tf.transpose(covariance)))
    persistent = tf.cast(eigenvalues < threshold, tf.float64)
    q_persistent = tf.matmul(eigenvectors * persistent, eigenvectors, transpose_b=True)
    q_driven = tf.matmul(eigenvectors * (1.0 - persistent), eigenvectors, transpose_b=True)
    return q_persistent, q_driven


def phase_dependence(states: tf.Tensor, noise_matrix: tf.Tensor,
                     threshold: float = PERSISTENT_THRESHOLD,
                     bandwidth: float = PHASE_BANDWIDTH) -> tf.Tensor:
    """The fraction of the variance of the innovation-driven part of `states` `(m, n)`
    explained by their persistent part, in [0, 1] (see the module docstring).

    E[s | p] is estimated at each state by the other states' driven parts, weighted by a
    Gaussian kernel on the persistent parts whose width is `bandwidth` times their median
    pairwise distance (leaving the state itself out, so an isolated state explains
    nothing); 0 when there is no driven part.

    Example:
    >>> noise = tf.linalg.diag([0.0, 0.0, 1.0])      # x_1, x_2 persist; x_3 is driven
    >>> phase = tf.random.normal([200, 2], seed=1)
    >>> float(phase_dependence(tf.concat([phase, phase[:, :1]], 1), noise)) > 0.5
    True
    """
    states = tf.cast(states, tf.float64)
    q_persistent, q_driven = innovation_projections(noise_matrix, threshold)
    persistent = tf.matmul(states, q_persistent)
    driven = tf.matmul(states, q_driven)
    squared = squared_distances(persistent, persistent)
    m = tf.shape(squared)[0]
    others = tf.logical_not(tf.eye(m, dtype=tf.bool))
    squared = tf.where(others, squared, tf.zeros_like(squared))
    # The median of the off-diagonal distances: sorted, the m zeros of the diagonal come
    # first. (A fixed-size sort, which XLA compiles, where a boolean mask would not be.)
    # The width sets the scale the phase is read at; it is not something to move states for.
    median = tf.stop_gradient(tf.sort(tf.reshape(squared, [-1]))[m + m * (m - 1) // 2])
    logits = -squared / (2.0 * bandwidth ** 2 * median + _EPSILON)
    logits = tf.where(others, logits, tf.constant(-1e30, tf.float64))
    weights = tf.nn.softmax(logits, axis=1)
    centred = driven - tf.reduce_mean(driven, axis=0, keepdims=True)
    explained = tf.reduce_sum(tf.square(tf.matmul(weights, centred)))
    total = tf.reduce_sum(tf.square(centred))
    return tf.cast(explained / (total + _EPSILON), tf.float32)


def driven_moment_mismatch(samples: tf.Tensor, noise_matrix: tf.Tensor,
                           threshold: float = PERSISTENT_THRESHOLD) -> tf.Tensor:
    """`||mu||^2 + ||C - Q_s||_F^2`: how far the innovation-driven part of posterior draws
    `samples` `(m, n)` is, in mean `mu` and covariance `C` over the batch, from the
    stationary prior's N(0, Q_s) that synthesis draws it from (A A^T + B B^T = I makes the
    stationary covariance I, so its driven part is the projection Q_s itself)."""
    samples = tf.cast(samples, tf.float64)
    _, q_driven = innovation_projections(noise_matrix, threshold)
    driven = tf.matmul(samples, q_driven)
    mean = tf.reduce_mean(driven, axis=0)
    centred = driven - mean
    covariance = tf.matmul(centred, centred, transpose_a=True) / tf.cast(
        tf.shape(driven)[0], tf.float64)
    return tf.cast(tf.reduce_sum(tf.square(mean))
                   + tf.reduce_sum(tf.square(covariance - q_driven)), tf.float32)


# The inverse multiquadric kernels' c, in units of 2r (r the driven rank, 2r the mean squared
# distance between two N(0, Q_s) draws): from a tenth of that to ten times, so the term sees
# both the bulk and the tails.
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def driven_mmd(samples: tf.Tensor, draws: tf.Tensor, noise_matrix: tf.Tensor,
               threshold: float = PERSISTENT_THRESHOLD,
               bandwidth: float = PHASE_BANDWIDTH) -> tf.Tensor:
    """The squared maximum mean discrepancy (unbiased) between posterior draws `samples`
    `(m, n)` and the same states with their innovation-driven part redrawn from standard
    normal `draws` `(m, n)` as synthesis draws it (`resample_driven`), under the product of
    a Gaussian kernel on the persistent parts (as wide as `phase_dependence`'s) and a sum of
    inverse multiquadric kernels `c / (c + |a - b|^2)`, `c = 2 r s` for s in `MMD_SCALES`
    (r the driven rank), on the driven parts.

    Both sets share their persistent parts, so for independent rows and a fixed kernel the
    term is 0 in expectation exactly when the driven part given the phase is distributed as
    N(0, Q_s) (the phase kernel's width is the batch's median distance and a batch's rows
    share windows, so in training approximately so): where
    `driven_moment_mismatch` matches the mean and covariance over all phases and
    `phase_dependence` the mean given the phase, this matches the whole distribution given
    the phase, so the hand synthesis draws at a phase is one the decoder saw there.

    Reference: Tolstikhin, Bousquet, Gelly & Schoelkopf, "Wasserstein Auto-Encoders",
    ICLR 2018 (the kernel and its scales).
    """
    q_persistent, q_driven = innovation_projections(noise_matrix, threshold)
    rank = tf.linalg.trace(q_driven)
    samples = tf.cast(samples, tf.float64)
    phase = tf.matmul(samples, q_persistent)
    a = tf.matmul(samples, q_driven)
    b = tf.matmul(tf.cast(draws, tf.float64), q_driven)
    m = tf.shape(a)[0]

    phase_squared = squared_distances(phase, phase)
    median = tf.stop_gradient(tf.sort(tf.reshape(phase_squared, [-1]))[m + m * (m - 1) // 2])
    phase_kernel = tf.stop_gradient(tf.exp(-phase_squared / (2.0 * bandwidth ** 2 * median
                                                              + _EPSILON)))
    d_aa, d_bb, d_ab = (squared_distances(a, a), squared_distances(b, b),
                        squared_distances(a, b))
    off_diagonal = 1.0 - tf.eye(m, dtype=tf.float64)
    pairs = tf.cast(m * (m - 1), tf.float64)
    total = tf.constant(0.0, tf.float64)
    for scale in MMD_SCALES:
        c = 2.0 * rank * scale
        within = (c / (c + d_aa) + c / (c + d_bb)) * phase_kernel * off_diagonal
        across = c / (c + d_ab) * phase_kernel * off_diagonal
        total += (tf.reduce_sum(within) - 2.0 * tf.reduce_sum(across)) / pairs
    return tf.cast(total, tf.float32)


# `frame_mmd`'s phase kernel width, as a fraction of the batch's mean squared distance
# between persistent parts.
FRAME_PHASE_WIDTH = 0.5


def frame_mmd(decoded: tf.Tensor, frames: tf.Tensor, states: tf.Tensor,
              noise_matrix: tf.Tensor, threshold: float = PERSISTENT_THRESHOLD) -> tf.Tensor:
    """The squared maximum mean discrepancy between frames `decoded` with a new hand and the
    real `frames`, row i of both at the phase of `states[i]`.

    Over the pairs i != j of the m rows, weighted by a phase kernel
    `w_ij = exp(-|p_i - p_j|^2 / (FRAME_PHASE_WIDTH mean_ab |p_a - p_b|^2))` on the
    persistent parts p = Q_p x (mean over all m^2 pairs), with a Gaussian kernel on the
    pixels `k(a, b) = exp(-|a - b|^2 / mean_ab |y_a - y_b|^2)` (the real frames' mean
    squared distance, over all m^2 pairs):

        sum_{i != j} w_ij [k(d_i, d_j) + k(y_i, y_j) - k(d_i, y_j) - k(y_i, d_j)]
        / sum_{i != j} w_ij.

    The phase weights are not differentiated through. They are wide: on a 10-cycle's locked
    planes another phase weighs 0.05-0.26 against the same phase's 1, so the term is an
    MMD over all the batch's frames that leans towards comparing frames of one phase. For
    a fixed kernel and independent rows it is 0 in expectation when the decoded frames are
    distributed as the real ones given the phase.

    Args:
        decoded: `(m, ...)` frames decoded from `resample_driven(states, ...)`.
        frames: `(m, ...)` the real frames of `states`, shaped as `decoded`.
        states: `(m, n)` the states (their persistent parts give the phase).
        noise_matrix: `B`, whose null space is the persistent part.
        threshold: as for `innovation_projections`.

    Returns:
        float32 scalar.

    Example:
    >>> fake = model.decode(resample_driven(states, b, draws))      # doctest: +SKIP
    >>> frame_mmd(fake, real, states, b)                             # doctest: +SKIP
    """
    q_persistent, _ = innovation_projections(noise_matrix, threshold)
    states = tf.cast(states, tf.float32)
    m = tf.shape(states)[0]
    phase = tf.matmul(states, tf.cast(q_persistent, tf.float32))
    fake = tf.reshape(tf.cast(decoded, tf.float32), [m, -1])
    real = tf.reshape(tf.cast(frames, tf.float32), [m, -1])

    phase_squared = squared_distances(phase, phase)
    weights = tf.stop_gradient(tf.exp(-phase_squared / (
        FRAME_PHASE_WIDTH * tf.reduce_mean(phase_squared) + 1e-9)))
    weights = weights * (1.0 - tf.eye(m))
    real_squared = squared_distances(real, real)
    width = tf.reduce_mean(real_squared) + 1e-9
    cross = tf.exp(-squared_distances(fake, real) / width)
    kernel = (tf.exp(-squared_distances(fake, fake) / width) + tf.exp(-real_squared / width)
              - cross - tf.transpose(cross))
    return tf.reduce_sum(weights * kernel) / tf.reduce_sum(weights)


def resample_driven(states: tf.Tensor, noise_matrix: tf.Tensor, draws: tf.Tensor,
                    threshold: float = PERSISTENT_THRESHOLD) -> tf.Tensor:
    """`Q_p x + Q_s v`: states `(m, n)` that keep their persistent part and take a new
    innovation-driven part from standard normal `draws` `(m, n)`, as synthesis draws it
    (the stationary prior's N(0, Q_s))."""
    q_persistent, q_driven = innovation_projections(noise_matrix, threshold)
    dtype = states.dtype
    return (tf.matmul(states, tf.cast(q_persistent, dtype))
            + tf.matmul(tf.cast(draws, dtype), tf.cast(q_driven, dtype)))


def readback_confusion(read: tf.Tensor, target: tf.Tensor, transition_matrix: tf.Tensor,
                       noise_matrix: tf.Tensor, period: int,
                       temperature: float = READBACK_TEMPERATURE,
                       threshold: float = PERSISTENT_THRESHOLD) -> tf.Tensor:
    """The cross-entropy of reading `read` `(m, n)` at the phase of `target` `(m, n)` rather
    than at any other of the `period` phases `A^j target`, on the persistent directions:

        -log softmax_j(-|Q_p (read - A^j target)|^2 / (temperature * s^2))_0,

    with s^2 the batch's mean squared step to the next phase in time, |Q_p (A x - x)|^2.
    Where `readback_error` charges every deviation, this charges a reading as it nears
    another phase: a new hand that is read a little off costs little, one that reads as
    another digit costs much."""
    q_persistent, _ = innovation_projections(noise_matrix, threshold)
    transition = tf.stop_gradient(tf.cast(transition_matrix, tf.float64))
    read = tf.matmul(tf.cast(read, tf.float64), q_persistent)
    target = tf.cast(target, tf.float64)
    candidates, shifted = [], target
    for _ in range(period):
        candidates.append(tf.matmul(shifted, q_persistent))
        shifted = tf.matmul(shifted, transition, transpose_b=True)
    candidates = tf.stack(candidates, axis=1)                                   # (m, P, n)
    step = tf.stop_gradient(tf.reduce_mean(tf.reduce_sum(
        tf.square(candidates[:, 1] - candidates[:, 0]), axis=1)))
    distances = tf.reduce_sum(tf.square(read[:, None] - candidates), axis=2)   # (m, P)
    logits = -distances / (temperature * step + _EPSILON)
    return tf.cast(tf.reduce_mean(tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]),
                   tf.float32)


def readback_error(read: tf.Tensor, target: tf.Tensor, noise_matrix: tf.Tensor,
                   threshold: float = PERSISTENT_THRESHOLD) -> tf.Tensor:
    """How far encoder readings `read` `(m, n)` are from `target` `(m, n)` on the persistent
    directions, relative to the targets' size there:

        sum_i |Q_p (read_i - target_i)|^2 / sum_i |Q_p target_i|^2

    0 when there are no persistent directions. The denominator carries no gradient: it sets
    the scale, it is not something to move the targets for.

    Example:
    >>> noise = tf.linalg.diag([0.0, 0.0, 1.0])      # x_1, x_2 persist; x_3 is driven
    >>> float(readback_error(tf.constant([[1.0, 0.0, 5.0]]), tf.constant([[2.0, 0.0, 0.0]]),
    ...                      noise))
    0.25
    """
    q_persistent, _ = innovation_projections(noise_matrix, threshold)
    read = tf.matmul(tf.cast(read, tf.float64), q_persistent)
    target = tf.matmul(tf.cast(target, tf.float64), q_persistent)
    scale = tf.stop_gradient(tf.reduce_sum(tf.square(target)))
    return tf.cast(tf.reduce_sum(tf.square(read - target)) / (scale + _EPSILON), tf.float32)
