"""`load_run`: a run directory read back as typed fields, and errors naming the file."""

import json
import shutil

import numpy as np
import pytest

from dynamic_vae.baseline import LinearDynamicTexture
from dynamic_vae.config import RunConfig
from dynamic_vae.models.dynamic_vae import DynamicVAE
from dynamic_vae.runs import (BASELINE_FILE, BASELINE_KIND, CONFIG_FILE, MODEL_FILE,
                              SUMMARY_FILE, TEST_PAIRS_FILE, Run, load_run, load_test_pair,
                              save_model, save_test_pairs)

CONFIG = RunConfig.from_dict({"model": {"frame_shape": [16, 16, 1], "latent_dim": 2,
                                        "base_channels": 8, "pixel_range": [-1.0, 1.0]},
                              "training": {"cycle": "123", "num_frames": 40, "seed": 3}})
PAIR = np.linspace(0.0, 1.0, 2 * 16 * 16, dtype=np.float32).reshape(1, 2, 16, 16, 1)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run directory as `train` writes it, with an untrained model."""
    run_dir = tmp_path_factory.mktemp("run")
    save_model(DynamicVAE(CONFIG.model, seed=0), run_dir / MODEL_FILE)
    record = {**CONFIG.to_dict(), "data": {"source": "counting-mnist", "cycle": "123",
                                           "num_frames": 40}, "init_from": "elsewhere",
              "first_stage": CONFIG.to_dict()}
    (run_dir / CONFIG_FILE).write_text(json.dumps(record))
    (run_dir / SUMMARY_FILE).write_text(json.dumps({"epochs": 3}))
    # Given in the model's pixel range, kept in [0, 1].
    save_test_pairs(run_dir, PAIR * 2.0 - 1.0, CONFIG.model.pixel_range)
    return run_dir


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline")
    frames = np.random.default_rng(0).random((12, 8, 8, 1)).astype(np.float32)
    LinearDynamicTexture(latent_dim=2, seed=0).fit(frames[:-1]).save(run_dir / BASELINE_FILE)
    save_test_pairs(run_dir, frames[np.newaxis, -2:])
    (run_dir / CONFIG_FILE).write_text(json.dumps(
        {"model": BASELINE_KIND, "latent_dim": 2, "data": {"source": "frames.npy"}}))
    return run_dir


def copy(run_dir, tmp_path):
    return shutil.copytree(run_dir, tmp_path / "run")


def test_a_run_reads_back_as_typed_fields(tiny_run):
    run = load_run(tiny_run)
    assert isinstance(run, Run) and run.directory == tiny_run
    assert isinstance(run.model, DynamicVAE) and run.model.model_config == CONFIG.model
    assert run.config == CONFIG and not run.is_baseline
    assert run.config.training.cycle == "123" and run.config.training.seed == 3
    assert run.data_source == "counting-mnist" and run.trained_on_counting_mnist
    assert run.init_from == "elsewhere" and run.first_stage == CONFIG
    assert run.summary == {"epochs": 3}
    np.testing.assert_allclose(run.test_pairs, PAIR, atol=1e-6)
    np.testing.assert_allclose(run.test_pair, load_test_pair(tiny_run), atol=0)
    assert run.record()["training"]["cycle"] == "123"
    assert run.path(MODEL_FILE) == tiny_run / MODEL_FILE


def test_a_run_without_config_summary_or_test_pairs(tiny_run, tmp_path):
    run_dir = copy(tiny_run, tmp_path)
    for name in (CONFIG_FILE, SUMMARY_FILE, TEST_PAIRS_FILE):
        (run_dir / name).unlink()
    run = load_run(run_dir)
    # What the model itself records, and nothing made up about the data.
    assert run.config.model == CONFIG.model and run.data == {}
    assert not run.trained_on_counting_mnist
    assert run.summary is None and run.test_pairs is None and run.test_pair is None


def test_a_baseline_run_is_read_only_when_asked_for(baseline_run):
    with pytest.raises(FileNotFoundError, match=r"model.keras is missing\); it is a "
                                                r"linear-baseline run"):
        load_run(baseline_run)
    run = load_run(baseline_run, allow_baseline=True)
    assert run.is_baseline and run.config is None
    assert isinstance(run.model, LinearDynamicTexture) and run.model.latent_dim == 2
    assert run.data_source == "frames.npy" and run.test_pairs.shape == (1, 2, 8, 8, 1)


def damage(path, content):
    path.write_bytes(content)


@pytest.mark.parametrize("name, content, message", [
    (MODEL_FILE, b"not a zip archive", r"model.keras: cannot load the model"),
    (CONFIG_FILE, b'{"model": ', r"config.json: not valid JSON"),
    (CONFIG_FILE, b'{"model": {"latent_dim": "two"}}',
     r"config.json: not a dynamic-vae run configuration \(latent_dim: expected int"),
    (CONFIG_FILE, b'{"optimizer": {}}', r"config.json: not a dynamic-vae run configuration"),
    (CONFIG_FILE, b'{"data": [1]}', r"config.json: 'data' must be a JSON object"),
    (SUMMARY_FILE, b"[1, 2]", r"summary.json: expected a JSON object, got list"),
    (TEST_PAIRS_FILE, b"not an array", r"test_pairs.npy: not a readable .npy array"),
])
def test_damaged_files_are_named(tiny_run, tmp_path, name, content, message):
    run_dir = copy(tiny_run, tmp_path)
    damage(run_dir / name, content)
    with pytest.raises(ValueError, match=message):
        load_run(run_dir)


def test_test_pairs_of_the_wrong_shape_are_named(tiny_run, tmp_path):
    run_dir = copy(tiny_run, tmp_path)
    np.save(run_dir / TEST_PAIRS_FILE, np.zeros((3, 16, 16, 1), np.float32))
    with pytest.raises(ValueError, match=r"test_pairs.npy: expected float32 pairs"):
        load_run(run_dir)


def test_a_missing_model_is_named(tiny_run, tmp_path):
    run_dir = copy(tiny_run, tmp_path)
    (run_dir / MODEL_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=r"not a finished run directory \(model.keras "
                                                r"is missing\)"):
        load_run(run_dir)
