"""From frame sequences to shuffled, batched, prefetched pairs of consecutive frames.

A pair is `frames[t : t + 2]` of one sequence, shape `(2, H, W, C)`; pairs never straddle two
sequences (nor do the longer windows `frames[t : t + L]` used by multi-step training). Following the paper, one pair per run is held out for testing (default: the last
pair of the last sequence) and never appears in a training batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from dynamic_vae.pixels import to_pixel_range

SUPPORTED_DTYPES = ("uint8", "float16", "float32", "float64")


def validate_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Checks one frame sequence and returns it as `(T, H, W, C)`.

    Accepts `uint8` (0..255) or float arrays with values in [0, 1], shaped `(T, H, W)` or
    `(T, H, W, C)` with C in {1, 3}.

    Raises:
        ValueError: naming `name` and what is wrong (type, dtype, rank, length, channels,
            non-finite values, value range).
    """
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(frames).__name__}")
    if frames.dtype.name not in SUPPORTED_DTYPES:
        raise ValueError(f"{name}: expected dtype uint8 (0..255) or float in [0, 1] "
                         f"({', '.join(SUPPORTED_DTYPES)}), got {frames.dtype}")
    if frames.ndim == 3:
        frames = frames[..., np.newaxis]
    if frames.ndim != 4:
        raise ValueError(f"{name}: expected shape (T, H, W) or (T, H, W, C), got "
                         f"{frames.shape}")
    if frames.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 frames to form a pair, got "
                         f"{frames.shape[0]}")
    if frames.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: expected 1 (gray) or 3 (RGB) channels, got "
                         f"{frames.shape[-1]} (shape {frames.shape})")
    if min(frames.shape[1:3]) < 1:
        raise ValueError(f"{name}: frames have an empty side, shape {frames.shape}")
    if frames.dtype != np.uint8:
        finite = np.isfinite(frames)
        if not finite.all():
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(f"{name}: {int((~finite).sum())} NaN/inf values, the first at "
                             f"index {first}")
        low, high = float(frames.min()), float(frames.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{name}: float frames must lie in [0, 1], got values in "
                             f"[{low:g}, {high:g}] (pass uint8 for 0..255 data)")
    return frames


@dataclasses.dataclass
class FramePairs:
    """Frames ready for training, and which pairs train and which is held out.

    Attributes:
        frames: all frames of all sequences, concatenated, float32 `(T_total, H, W, C)` in the
            model's pixel range.
        train_starts: index `t` of every training pair `frames[t : t + 2]`.
        test_starts: index of the held-out pair(s).
    """

    frames: np.ndarray
    train_starts: np.ndarray
    test_starts: np.ndarray

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.frames.shape[1:])

    def pairs(self, starts: np.ndarray) -> np.ndarray:
        """`(len(starts), 2, H, W, C)` pairs starting at `starts`."""
        starts = np.asarray(starts, dtype=np.int64)
        return np.stack([self.frames[starts], self.frames[starts + 1]], axis=1)

    @property
    def test_pairs(self) -> np.ndarray:
        return self.pairs(self.test_starts)

    def window_starts(self, window: int = 2) -> np.ndarray:
        """Starts of the training windows of `window` consecutive frames: every pair inside a
        window is a training pair, so no window crosses a sequence boundary or the held-out
        pair."""
        if window < 2:
            raise ValueError(f"window must be >= 2 frames, got {window}")
        starts = self.train_starts
        inside = np.ones(len(starts), dtype=bool)
        for k in range(1, window - 1):
            inside &= np.isin(starts + k, starts)
        return starts[inside]

    def dataset(self, batch_size: int, seed: int = 0, shuffle: bool = True,
                repeat: bool = False, drop_remainder: bool = False,
                window: int = 2) -> tf.data.Dataset:
        """Batches `(batch, window, H, W, C)` of training windows (pairs by default),
        reshuffled every epoch."""
        window_starts = self._checked_window_starts(batch_size, window)
        starts = tf.data.Dataset.from_tensor_slices(window_starts)
        if shuffle:
            starts = starts.shuffle(len(window_starts), seed=seed,
                                    reshuffle_each_iteration=True)
        if repeat:
            starts = starts.repeat()
        return self._gather_windows(starts.batch(batch_size, drop_remainder=drop_remainder),
                                    window)

    def _checked_window_starts(self, batch_size: int, window: int) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        window_starts = self.window_starts(window)
        if len(window_starts) == 0:
            raise ValueError(f"window: no run of {window} consecutive training frames exists "
                             f"(sequences too short for windows of {window})")
        return window_starts

    def _gather_windows(self, batched_starts: tf.data.Dataset, window: int) -> tf.data.Dataset:
        """Batches of start indices -> prefetched batches of windows `(batch, window, ...)`."""
        frames = tf.constant(self.frames)
        offsets = tf.range(window, dtype=tf.int64)
        # Gathering a whole batch at once is one op per batch, not one per pair.
        dataset = batched_starts.map(lambda t: tf.gather(frames, t[:, tf.newaxis] + offsets),
                                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def steps_per_epoch(self, batch_size: int, window: int = 2,
                        windows_per_epoch: int | None = None) -> int:
        """Batches in one epoch (the last one may be smaller): one pass over the training
        windows, or `windows_per_epoch` windows."""
        count = windows_per_epoch or len(self.window_starts(window))
        return -(-count // batch_size)

    def epoch_dataset(self, batch_size: int, seed: int, first_epoch: int, epochs: int,
                      window: int = 2, windows_per_epoch: int | None = None
                      ) -> tf.data.Dataset:
        """The batches of epochs `first_epoch .. epochs - 1`, one after the other.

        Epoch e's order is a stateless shuffle seeded by `(seed, e)`, so a run resumed at epoch
        e sees exactly the batches an uninterrupted run would have seen (a `shuffle` with
        `reshuffle_each_iteration` would restart its sequence of orders). With
        `windows_per_epoch` an epoch is that many windows, taken from as many consecutive
        shuffled passes as needed (each pass seeded by `(seed, e, pass)`). Fit it with
        `steps_per_epoch=self.steps_per_epoch(batch_size, window, windows_per_epoch)`.
        """
        if not 0 <= first_epoch <= epochs:
            raise ValueError(f"first_epoch must lie in [0, epochs={epochs}], got {first_epoch}")
        if windows_per_epoch is not None and windows_per_epoch < 1:
            raise ValueError(f"windows_per_epoch must be >= 1, got {windows_per_epoch}")
        window_starts = self._checked_window_starts(batch_size, window)
        starts = tf.constant(window_starts)
        count = windows_per_epoch or len(window_starts)
        passes = -(-count // len(window_starts))

        def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
            base = tf.constant(seed, tf.int64)
            if windows_per_epoch is None:
                order = tf.random.experimental.stateless_shuffle(
                    starts, seed=tf.stack([base, epoch]))
            else:
                order = tf.concat([tf.random.experimental.stateless_shuffle(
                    starts, seed=tf.stack([base, epoch * passes + i])) for i in range(passes)],
                    axis=0)[:count]
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

        return self._gather_windows(
            tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch), window)


def make_frame_pairs(
    sequences: np.ndarray | Sequence[np.ndarray],
    pixel_range: tuple[float, float] = (0.0, 1.0),
    holdout: int | None = -1,
) -> FramePairs:
    """Validates and normalises frame sequences and splits their pairs.

    Args:
        sequences: one array `(T, H, W[, C])` or a list of them (same H, W, C).
        pixel_range: the model's pixel range.
        holdout: which pair (index into all pairs, in order; negative counts from the end) is
            held out for testing; `None` holds out nothing.

    Returns:
        A `FramePairs`.

    Raises:
        ValueError: on invalid frames, mismatched sequence shapes or an out-of-range holdout.
    """
    if isinstance(sequences, np.ndarray):
        sequences = [sequences]
    if len(sequences) == 0:
        raise ValueError("sequences: expected at least one frame sequence, got none")
    validated = [validate_frames(seq, name=f"sequences[{i}]") for i, seq in enumerate(sequences)]
    shape = validated[0].shape[1:]
    for i, seq in enumerate(validated[1:], start=1):
        if seq.shape[1:] != shape:
            raise ValueError(f"sequences[{i}]: frame shape {seq.shape[1:]} differs from "
                             f"sequences[0]'s {shape}")
    frames = np.concatenate([to_pixel_range(seq, pixel_range) for seq in validated])
    starts, offset = [], 0
    for seq in validated:
        starts.append(np.arange(offset, offset + len(seq) - 1))
        offset += len(seq)
    all_starts = np.concatenate(starts)
    if holdout is None:
        return FramePairs(frames, all_starts, np.zeros([0], dtype=all_starts.dtype))
    if not -len(all_starts) <= holdout < len(all_starts):
        raise ValueError(f"holdout: pair index {holdout} is out of range for "
                         f"{len(all_starts)} pairs")
    if len(all_starts) < 2:
        raise ValueError(f"sequences: {len(all_starts)} pair(s) leave nothing to train on once "
                         "one pair is held out; pass holdout=None or more frames")
    test = np.array([all_starts[holdout]])
    return FramePairs(frames, np.delete(all_starts, holdout), test)


def split_validation_windows(pairs: FramePairs, fraction: float, window: int
                             ) -> tuple[FramePairs, np.ndarray]:
    """Holds out the last `fraction` of every sequence as validation windows.

    Each sequence's last `max(ceil(fraction * T), window)` frames become validation frames:
    every window of `window` consecutive validation frames is returned, and no training pair
    touches a validation frame. A sequence too short to give up that many frames and keep a
    training pair trains whole. The held-out test pair is kept as it is.

    Args:
        pairs: what `make_frame_pairs` returned.
        fraction: in (0, 1).
        window: frames per validation window (the training window).

    Returns:
        `(training pairs, validation windows (N, window, H, W, C))`.

    Raises:
        ValueError: if no sequence is long enough to keep both training pairs and a
            validation window.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {fraction}")
    starts = np.union1d(pairs.train_starts, pairs.test_starts)
    # A sequence is a run of consecutive pair starts t, t + 1, ...
    breaks = np.flatnonzero(np.diff(starts) != 1) + 1
    train_kept, window_starts = [], []
    for run in np.split(starts, breaks):
        first_frame, frames = int(run[0]), len(run) + 1
        held = max(int(np.ceil(fraction * frames)), window)
        if frames - held < 2:
            train_kept.append(run)
            continue
        boundary = first_frame + frames - held  # the first validation frame
        train_kept.append(run[run + 1 < boundary])
        window_starts.append(np.arange(boundary, first_frame + frames - window + 1))
    if not window_starts:
        longest = max(len(run) + 1 for run in np.split(starts, breaks))
        raise ValueError(
            f"validation_fraction: the longest sequence has {longest} frames, too few to "
            f"hold out {max(int(np.ceil(fraction * longest)), window)} validation frames "
            f"(at least window={window}) and keep a training pair; lower "
            "validation_fraction or window, or pass longer sequences")
    train = np.setdiff1d(np.concatenate(train_kept), pairs.test_starts)
    window_starts = np.concatenate(window_starts)
    windows = pairs.frames[window_starts[:, np.newaxis] + np.arange(window)]
    return FramePairs(pairs.frames, train, pairs.test_starts), windows
