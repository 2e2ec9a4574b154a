"""Novelty: are synthesised frames new frames of the process, neither copies nor garbage?

Distances are root-mean-square pixel differences (pixels in [0, 1]). The reference scale is
the leave-one-out nearest-neighbour distance within the (de-duplicated) training frames: a
synthesised frame much closer to the training set than that is a copy; one much farther is
not a frame the process would show.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def nearest_neighbour_distances(queries: np.ndarray, references: np.ndarray,
                                exclude: np.ndarray | None = None,
                                batch_size: int = 512) -> np.ndarray:
    """RMS distance from each query to its nearest reference, `(N,)`.

    Args:
        queries: `(N, ...)` frames.
        references: `(M, ...)` frames of the same shape.
        exclude: `(N,)` index of a reference to skip for each query (-1: none), for
            leave-one-out distances.
        batch_size: queries per distance matrix.
    """
    q = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    r = np.asarray(references, dtype=np.float64).reshape(len(references), -1)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values per frame, references "
                         f"{r.shape[1]}")
    if len(r) == 0 or (exclude is not None and len(r) < 2):
        raise ValueError(f"references: need at least {1 if exclude is None else 2} frames, "
                         f"got {len(r)}")
    r_norms = np.einsum("ij,ij->i", r, r)
    distances = np.empty(len(q))
    for i in range(0, len(q), batch_size):
        block = q[i:i + batch_size]
        squared = np.einsum("ij,ij->i", block, block)[:, None] + r_norms[None] - 2 * block @ r.T
        if exclude is not None:
            rows = np.flatnonzero(exclude[i:i + batch_size] >= 0)
            squared[rows, exclude[i:i + batch_size][rows]] = np.inf
        distances[i:i + batch_size] = np.sqrt(np.maximum(squared.min(axis=1), 0) / q.shape[1])
    return distances


def novelty_metrics(synthesised: np.ndarray, training: np.ndarray, max_queries: int = 1000,
                    copy_quantile: float = 0.05, copy_scale: float = 0.25,
                    seed: int = 0) -> dict[str, Any]:
    """Nearest-neighbour distances of synthesised frames to the training frames, against the
    training frames' own leave-one-out nearest-neighbour distances.

    Args:
        synthesised: `(..., H, W, C)` frames (any leading axes), float in [0, 1].
        training: `(N, H, W, C)` float in [0, 1]; exact duplicates are dropped first (counting
            MNIST reuses digit images, which would make every leave-one-out distance 0).
        max_queries: at most this many synthesised and training frames are queried (evenly
            chosen with `seed`); all distinct training frames are references.
        copy_quantile, copy_scale: a synthesised frame is a near-copy when it is closer to the
            training set than `copy_scale` times the `copy_quantile` quantile of the
            leave-one-out distances (a frame halfway between two neighbours is new).

    Returns:
        `synthesised_median`, `training_median` (leave-one-out), `ratio` (of the medians: ~1
        new frames at the training set's own spacing, << 1 copies, >> 1 off the data),
        `near_copy_fraction`, and both 10/50/90 percentiles.
    """
    frame_shape = np.shape(training)[1:]
    synthesised = np.asarray(synthesised, dtype=np.float32).reshape(-1, *frame_shape)
    training = np.asarray(training, dtype=np.float32)
    distinct = np.unique(training.reshape(len(training), -1), axis=0)
    if len(distinct) < 2:
        raise ValueError(f"training frames: need at least 2 distinct frames, got "
                         f"{len(distinct)}")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(synthesised), min(max_queries, len(synthesised)),
                                replace=False))
    synth_distances = nearest_neighbour_distances(synthesised[picked], distinct)
    own = np.sort(rng.choice(len(distinct), min(max_queries, len(distinct)), replace=False))
    loo_distances = nearest_neighbour_distances(distinct[own], distinct, exclude=own)
    threshold = copy_scale * float(np.quantile(loo_distances, copy_quantile))
    synth_median = float(np.median(synth_distances))
    train_median = float(np.median(loo_distances))
    return {
        "synthesised_median": synth_median,
        "training_median": train_median,
        "ratio": synth_median / train_median if train_median > 0 else float("inf"),
        "near_copy_fraction": float(np.mean(synth_distances < threshold)),
        "near_copy_threshold": threshold,
        "synthesised_percentiles": [float(v) for v in
                                    np.percentile(synth_distances, [10, 50, 90])],
        "training_percentiles": [float(v) for v in np.percentile(loo_distances, [10, 50, 90])],
        "distinct_training_frames": int(len(distinct)),
        "queries": int(len(picked)),
    }
