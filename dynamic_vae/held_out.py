"""The held-out frame pair(s) a run keeps beside its model (`test_pairs.npy`).

The paper holds out one pair of the training sequence and starts synthesis from the first
half of its posterior mean (eq. 35). Keeping that pair in the run directory lets `generate`
follow the protocol without the training data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamic_vae.atomic import atomic_save_npy
from dynamic_vae.pixels import to_unit_range

TEST_PAIRS_FILE = "test_pairs.npy"


def unit_pairs(pairs: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """Frame pairs given in the model's `pixel_range`, as float32 in [0, 1] (what
    `synthesize(initial_pair=...)` takes)."""
    return to_unit_range(pairs, pixel_range)


def save_test_pairs(run_dir: str | Path, test_pairs: np.ndarray,
                    pixel_range: tuple[float, float] = (0.0, 1.0)) -> None:
    """Writes a run's held-out pairs `(P, 2, H, W, C)`, given in `pixel_range`, as float32
    in [0, 1]."""
    atomic_save_npy(Path(run_dir) / TEST_PAIRS_FILE, unit_pairs(test_pairs, pixel_range))


def load_test_pair(run_dir: str | Path) -> np.ndarray | None:
    """The first held-out pair `(2, H, W, C)` (float32 in [0, 1]) of a run, or `None` for a
    run that holds none out or was written before runs kept it."""
    path = Path(run_dir) / TEST_PAIRS_FILE
    if not path.is_file():
        return None
    try:
        pairs = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npy array ({error}); the run directory is "
                         "damaged") from None
    if pairs.ndim != 5 or pairs.shape[1] != 2 or pairs.dtype != np.float32:
        raise ValueError(f"{path}: expected float32 pairs of shape (P, 2, H, W, C), got "
                         f"{pairs.dtype} {pairs.shape}; the run directory is damaged")
    return pairs[0] if len(pairs) else None
