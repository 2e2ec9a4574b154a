"""The period of a cyclic video, read from its own frames.

A clip of a cyclic process (an animal running in a loop, a turning object) repeats itself:
frame t + P looks like frame t. `lag_differences` measures how unlike each other frames L
apart are, for every lag L; `estimate_period` picks the period from that curve.

Example:

    clip = load_video("running/tiger.mp4", color="gray", size=64, crop="none")
    estimate_period(clip)          # 30: the tiger's stride
"""

from __future__ import annotations

import numpy as np

from dynamic_vae.pixels import as_unit_float

# How near the deepest dip another dip must come to be the period, as a fraction of the
# curve's range (deepest dip .. largest difference): a multiple of the period is about as
# deep as the period; a half-period look-alike (e.g. the left and right legs swapping) is not.
DIP_TOLERANCE = 0.2
# A dip counts only when it lies at least a fifth below the largest difference between the
# clip's frames: frames of random noise give a flat curve (within a few percent), while pixel
# noise on a periodic clip only lifts the whole curve by a floor, so a stricter ratio would
# reject clearly periodic but noisy clips.
MAX_DIP_RATIO = 0.8
# A shallower dip still counts when it comes back at every multiple of its lag, at least
# this many times, and every multiple lies below every other lag by this many standard
# deviations of the other lags: frames that repeat only in part (a counting display whose
# digits are written by a new hand every cycle: frames one period apart share the digit, not
# the strokes) dip by a tenth, but at every multiple and nowhere else, which noise does not.
MIN_REPEATS = 3
MIN_REPEAT_SEPARATION = 3.0


def _unit_frames(frames: np.ndarray) -> np.ndarray:
    """`(T, D)` float64 in [0, 1] from `(T, ...)` uint8 or float frames."""
    frames = np.asarray(frames)
    if frames.ndim < 2:
        raise ValueError(f"frames: expected an array (T, H, W[, C]) of at least 2 axes, got "
                         f"shape {frames.shape}")
    if frames.dtype != np.uint8 and not np.issubdtype(frames.dtype, np.floating):
        raise ValueError(f"frames: expected uint8 (0..255) or float frames, got dtype "
                         f"{frames.dtype}")
    unit = as_unit_float(frames, np.float64)
    if not np.isfinite(unit).all():
        raise ValueError("frames: holds NaN or inf values")
    return unit.reshape(len(unit), -1)


def lag_differences(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """Mean absolute difference between frames `t` and `t + L`, for every lag `L = 1 ..
    max_lag`.

    Args:
        frames: `(T, H, W[, C])` (or any `(T, ...)`), uint8 (0..255) or float.
        max_lag: the largest lag, `1 <= max_lag < T`.

    Returns:
        `(max_lag,)` float64: entry `L - 1` is the mean over `t = 0 .. T - L - 1` and all
        pixels of `|frames[t + L] - frames[t]|`, in units of [0, 1] pixels (uint8 frames are
        divided by 255).

    Raises:
        ValueError: naming the argument, on a bad shape, dtype or lag.

    Example:
    >>> lag_differences(np.array([0, 1, 0, 1], np.float32)[:, None], 2)
    array([1., 0.])
    """
    unit = _unit_frames(frames)
    if not 1 <= int(max_lag) < len(unit):
        raise ValueError(f"max_lag: expected 1 <= max_lag < {len(unit)} (the number of "
                         f"frames), got {max_lag}")
    return np.array([np.abs(unit[lag:] - unit[:-lag]).mean()
                     for lag in range(1, int(max_lag) + 1)])


def estimate_period(frames: np.ndarray, min_period: int = 2, max_period: int | None = None,
                    tolerance: float = DIP_TOLERANCE) -> int:
    """The period, in frames, of a clip of a cyclic process.

    The curve `d(L)` of `lag_differences` dips wherever frames L apart look alike: at the
    period P and at its multiples 2P, 3P, ... A multiple can dip as deep as the period itself
    (or, with noise or fewer pairs to average over, a little deeper), so the deepest dip is
    not the answer; the answer is the *first* lag that dips about as deep. Precisely:

    1. `d(L)` for every lag `1 .. max_period` (lags below `min_period` only as neighbours).
    2. `low` is the smallest `d` over `min_period .. max_period`, `high` the largest over
       all lags computed.
    3. A lag `L` in `min_period .. max_period` is a dip when `d(L) < d(L - 1)` and
       `d(L) <= d(L + 1)` (at `max_period`, where `d(L + 1)` is not computed, the first
       condition alone). Requiring the fall from `L - 1` keeps a clip that only drifts away
       from its start (`d` rising with the lag) from reporting `min_period`.
    4. The period is the smallest dip with `d(L) <= low + tolerance * (high - low)`. A shallow
       dip between the period's (a half-period look-alike, e.g. a runner's legs swapping
       sides) falls outside that band; the period's multiples are also in it but larger.
    5. A dip must also lie well below the frames' largest difference, `d(L) <= 0.8 * high`,
       so frames of random noise (a flat curve, within a few percent), a frozen clip (`d` all
       zero) and, by step 3, a clip drifting without returning raise instead of returning an
       arbitrary lag. Pixel noise adds a floor to the whole curve; a period whose dip it
       fills above that line is reported as none (give the period then).
    6. A shallower period is also accepted when it repeats (the answer is then the smallest
       lag that passes 4 and 5 or this step): a `P` with at least 3 multiples
       `P, 2P, 3P, ... <= max_period` such that the largest `d` over the multiples lies
       below the smallest `d` over every other lag of `min_period .. max_period` by at
       least 3 standard deviations of those other lags.
       A counting display written by a new hand every cycle dips by only a tenth at its
       period (frames one period apart share the digit, not the strokes), but at every
       multiple and at no other lag; random frames and clips that drift do not.

    The default `max_period` is `T // 2`, so the clip shows the cycle at least twice (a
    period of exactly half the clip is found: its dip is at the last lag). Frames of only a
    handful of pixels give a curve noisy enough for random frames to dip now and then.

    Args:
        frames: `(T, H, W[, C])` (or any `(T, ...)`), uint8 (0..255) or float, in time order.
        min_period: the shortest period considered, >= 2.
        max_period: the longest period considered, `min_period <= max_period < T`; `None`
            means `T // 2`. A clip whose true period is longer may report `max_period` when
            `d` is still falling there.
        tolerance: the band of step 4, as a fraction of `high - low`, in [0, 1).

    Returns:
        The period P in frames, `min_period <= P <= max_period`.

    Raises:
        ValueError: naming the argument, on bad frames or bounds, and naming `frames` when
            no lag in `min_period .. max_period` is a period (the message gives `low` and
            `high`).

    Example:
    >>> t = np.arange(48)
    >>> clip = np.sin(2 * np.pi * t / 12)[:, None, None] * np.ones((1, 4, 4)) * 0.5 + 0.5
    >>> estimate_period(clip)
    12
    """
    unit = _unit_frames(frames)
    num_frames = len(unit)
    if int(min_period) < 2:
        raise ValueError(f"min_period: expected >= 2 frames, got {min_period}")
    if max_period is None:
        max_period = num_frames // 2
        if max_period < min_period:
            raise ValueError(f"frames: {num_frames} frames cannot show a period of at least "
                             f"min_period={min_period} twice (need {2 * min_period} frames)")
    if not min_period <= int(max_period) < num_frames:
        raise ValueError(f"max_period: expected min_period={min_period} <= max_period < "
                         f"{num_frames} (the number of frames), got {max_period}")
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance: expected a fraction in [0, 1), got {tolerance}")
    min_period, max_period = int(min_period), int(max_period)
    differences = lag_differences(unit, max_period)  # differences[L - 1] = d(L)
    lags = np.arange(min_period, max_period + 1)
    in_range = differences[lags - 1]
    low, high = float(in_range.min()), float(differences.max())
    band = min(low + tolerance * (high - low), MAX_DIP_RATIO * high)
    falls = in_range < differences[lags - 2]
    # d(max_period + 1) is not computed: the last lag needs only the fall into it.
    rises_after = np.append(in_range[:-1] <= in_range[1:], True)
    dips = np.concatenate([lags[falls & rises_after & (in_range <= band)],
                           _repeating_dips(differences, min_period, max_period)])
    if len(dips) == 0:
        raise ValueError(
            f"frames: no period between {min_period} and {max_period} frames: the mean "
            f"absolute difference between frames L apart reaches {low:.4g} at best against "
            f"{high:.4g} at worst (a period needs a dip to at most {MAX_DIP_RATIO} times the "
            "worst, after a fall from the lag before, or a dip at every multiple of the "
            f"period, at least {MIN_REPEATS} times, well below every other lag)")
    return int(dips.min())


def _repeating_dips(differences: np.ndarray, min_period: int, max_period: int) -> np.ndarray:
    """The lags `P` of step 6 of `estimate_period`, in increasing order (maybe none)."""
    lags = np.arange(min_period, max_period + 1)
    found = []
    for period in range(min_period, max_period // MIN_REPEATS + 1):
        multiple = lags % period == 0
        others = differences[lags[~multiple] - 1]
        if len(others) < 2:
            continue
        worst_multiple = differences[lags[multiple] - 1].max()
        if worst_multiple + MIN_REPEAT_SEPARATION * others.std() < others.min():
            found.append(period)
    return np.array(found, dtype=np.int64)


def phase_variance_ratio(frames: np.ndarray, period: int) -> float:
    """How much more the frames differ between phases of `period` than within a phase: the
    F ratio of a one-way analysis of variance with the phase `t mod period` as the group,
    pooled over pixels.

    Frame `t` belongs to phase `t mod period`; only whole cycles are used (the first
    `period * (T // period)` frames). The ratio is the between-phase mean square (the
    phase means' squared deviations from the overall mean, times the cycles, over
    `period - 1`) divided by the within-phase mean square (the frames' squared deviations
    from their phase's mean, over `T - period`). Frames whose phase explains nothing score
    about 1 (a lag that only happens to dip, or a flicker that keeps no beat, scores
    below); a running animal's loop scores in the hundreds, and a display that writes the
    same digit every cycle by a new hand 30-90, though the phase explains only a sixth to a
    fifth of its variance.

    Args:
        frames: `(T, ...)` uint8 or float, in time order, with at least two whole cycles.
        period: P >= 2 frames.

    Returns:
        The ratio, >= 0 (`inf` when the frames repeat exactly).

    Raises:
        ValueError: naming the argument, on bad frames or a period that does not fit twice.

    Example:
    >>> t = np.arange(40)
    >>> phase_variance_ratio(np.sin(2 * np.pi * t / 8)[:, None], 8)
    inf
    """
    whole = _whole_cycles(frames, period)
    cycles, period = whole.shape[:2]
    phase_means = whole.mean(axis=0)
    between = cycles * ((phase_means - whole.mean(axis=(0, 1))) ** 2).sum() / (period - 1)
    within = ((whole - phase_means) ** 2).sum() / (cycles * period - period)
    if within == 0:
        return float("inf") if between > 0 else 0.0
    return float(between / within)


def _whole_cycles(frames: np.ndarray, period: int) -> np.ndarray:
    """`(cycles, period, D)`: the whole cycles of frames in time order, in [0, 1].

    Raises:
        ValueError: naming the argument, on bad frames or a period that does not fit twice.
    """
    unit = _unit_frames(frames)
    if int(period) != period or not 2 <= period <= len(unit) // 2:
        raise ValueError(f"period: expected an integer 2 <= period <= {len(unit) // 2} (two "
                         f"cycles of the {len(unit)} frames), got {period}")
    period = int(period)
    cycles = len(unit) // period
    return unit[:cycles * period].reshape(cycles, period, -1)


def _phase_residuals(frames: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """`(whole cycles (T', D), their residuals from their phase's mean (T', D))`."""
    whole = _whole_cycles(frames, period)
    residuals = whole - whole.mean(axis=0)
    return whole.reshape(-1, whole.shape[-1]), residuals.reshape(-1, whole.shape[-1])


def phase_share(frames: np.ndarray, period: int) -> float:
    """The fraction of the frames' variance their phase `t mod period` explains: 1 minus
    the within-phase sum of squares over the total, pooled over pixels (whole cycles only).

    A loop that repeats itself scores about 1; a display that writes the same digit every
    cycle by a new hand about a fifth (the digit is the phase's, the strokes are not).

    Example:
    >>> t = np.arange(40)
    >>> phase_share(np.sin(2 * np.pi * t / 8)[:, None], 8)
    1.0
    """
    whole, residuals = _phase_residuals(frames, period)
    total = ((whole - whole.mean(axis=0)) ** 2).sum()
    if total == 0:
        return 0.0
    return float(1.0 - (residuals ** 2).sum() / total)


def residual_persistence(frames: np.ndarray, period: int) -> float:
    """The lag-one autocorrelation of what the phase leaves: each frame minus its phase's
    mean, `sum_t <r_t, r_(t+1)> / sum_t |r_t|^2`, pooled over pixels (whole cycles only).

    About 0 when every frame's own look is drawn anew (a new hand for every digit, or
    pixel noise); near 1 when it drifts slowly, as a texture's does (a flickering light
    whose beat repeats but whose flicker flows from frame to frame). 0 when the phase
    leaves nothing.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> frames = np.tile(np.eye(4), (50, 1)) + 0.1 * rng.normal(size=(200, 4))
    >>> abs(residual_persistence(frames, 4)) < 0.1
    True
    """
    _, residuals = _phase_residuals(frames, period)
    energy = (residuals[:-1] ** 2).sum()
    if energy == 0:
        return 0.0
    return float((residuals[:-1] * residuals[1:]).sum() / energy)
