"""Fault tolerance of training: a SIGKILLed run resumes, a diverging run fails clearly."""

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from dynamic_vae.config import get_preset
from dynamic_vae.data.frame_pairs import make_frame_pairs
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import load_run
from dynamic_vae.training import build_model, train

EPOCHS = 8
TINY = ["--preset", "paper-v1", "--latent-dim", "2", "--base-channels", "8",
        "--batch-size", "16", "--image-every", "0", "--seed", "3"]


def moving_bars(num_frames: int = 240, size: int = 16) -> np.ndarray:
    """A bar sweeping right and one sweeping down: a synthetic periodic video."""
    frames = np.zeros((num_frames, size, size), np.uint8)
    for t in range(num_frames):
        frames[t, :, (3 * t) % size] = 255
        frames[t, (5 * t) % size, :] = 128
    return frames


def tiny_config(epochs: int = EPOCHS, **fields):
    tiny = dict(frame_shape=(16, 16, 1), latent_dim=2, base_channels=8, batch_size=16,
                image_every=0, seed=3, epochs=epochs)
    return get_preset("paper-v1").override(**{**tiny, **fields})


def train_command(frames_path: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dynamic_vae.cli", "train", "--frames", str(frames_path),
            *TINY, "--epochs", str(EPOCHS), "--quiet", "--output", str(run_dir), *extra]


@pytest.mark.slow
def test_sigkilled_run_resumes_from_its_last_epoch(tmp_path):
    frames = moving_bars(160)
    frames_path = tmp_path / "frames.npy"
    np.save(frames_path, frames)
    run_dir = tmp_path / "run"
    command = train_command(frames_path, run_dir)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    backup_dir = run_dir / "backup"
    seen = {}
    while 3 not in seen:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no backup of epoch 3 within 120 s"
        for epoch in (2, 3):
            if epoch not in seen and (backup_dir / f"epoch-{epoch:04d}").is_dir():
                seen[epoch] = time.monotonic()
        time.sleep(0.01)
    # Kill in the middle of epoch 4: half an epoch after epoch 3's backup appeared.
    time.sleep(0.5 * (seen[3] - seen.get(2, seen[3])))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # Killed mid-run: no model, and a complete backup of at least 3 epochs.
    assert not (run_dir / "model.keras").exists()
    newest = RunBackup(backup_dir, {}).latest
    before_kill = json.loads((newest / "state.json").read_text())
    killed_after = before_kill["epoch"]
    assert 3 <= killed_after < EPOCHS

    # The same command again resumes.
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed from the backup of epoch {killed_after}" in result.stdout
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == EPOCHS
    assert history["loss"][:killed_after] == before_kill["history"]["loss"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == EPOCHS and summary["resumed_from_epoch"] == killed_after
    assert not backup_dir.exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]

    # It continues the loss curve of an uninterrupted run: same weights, optimizer state,
    # sampler RNG state and batches after the restart.
    _, reference = train(tiny_config(), tmp_path / "reference", frames=frames,
                         frames_source=str(frames_path), verbose=0)
    reference_loss = json.loads((tmp_path / "reference" / "history.json").read_text())["loss"]
    np.testing.assert_allclose(history["loss"], reference_loss, rtol=1e-4)
    assert history["loss"][-1] < history["loss"][0]


class CrashAt(keras.callbacks.Callback):
    """Raises at the start of epoch `epoch` (0-based), as a crash would."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_backup_of_another_config_is_a_clear_error_and_restart_discards_it(tmp_path):
    frames = moving_bars(80)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_config(epochs=3), run_dir, frames=frames, verbose=0, callbacks=[CrashAt(1)])
    assert (run_dir / "backup" / "epoch-0001").is_dir()
    other = tiny_config(epochs=3, latent_dim=3)
    with pytest.raises(ValueError, match=r"model\.latent_dim: 2 -> 3.*--restart"):
        train(other, run_dir, frames=frames, verbose=0)
    with pytest.raises(ValueError, match=r"data\.sha1"):
        train(tiny_config(epochs=3), run_dir, frames=frames[::-1].copy(), verbose=0)
    # The same config, even with more epochs, resumes.
    _, summary = train(tiny_config(epochs=4), run_dir, frames=frames, verbose=0)
    assert summary["resumed_from_epoch"] == 1 and summary["epochs"] == 4
    history = json.loads((run_dir / "history.json").read_text())
    assert all(len(values) == 4 for values in history.values())
    # --restart discards a backup and trains from scratch with the new config.
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_config(epochs=3), run_dir, frames=frames, verbose=0, callbacks=[CrashAt(1)])
    _, summary = train(other, run_dir, frames=frames, verbose=0, restart=True)
    assert summary["resumed_from_epoch"] == 0 and summary["epochs"] == 3
    assert load_run(run_dir).config.model.latent_dim == 3


def test_restore_brings_back_weights_optimizer_and_sampler_state(tmp_path):
    config = tiny_config(epochs=1)
    pairs = make_frame_pairs(moving_bars(80))
    model = build_model(config)
    model.fit(pairs.dataset(16), epochs=1, verbose=0)
    backup = RunBackup(tmp_path / "backup", config.to_dict())
    backup.set_model(model)
    backup.history = {"loss": [1.5]}
    backup.save(1)
    saved = [keras.ops.convert_to_numpy(v) for v in model.variables + model.optimizer.variables]

    fresh = build_model(tiny_config(epochs=1))
    fresh.optimizer.build(fresh.trainable_variables)
    restorer = RunBackup(tmp_path / "backup", config.to_dict())
    assert restorer.restore(fresh) == 1 and restorer.history == {"loss": [1.5]}
    restored = [keras.ops.convert_to_numpy(v) for v in fresh.variables + fresh.optimizer.variables]
    names = [v.path for v in fresh.variables + fresh.optimizer.variables]
    assert any(n.endswith("seed_generator_state") for n in names)
    assert any(n.endswith("iteration") for n in names)
    for name, a, b in zip(names, saved, restored):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert int(keras.ops.convert_to_numpy(fresh.optimizer.iterations)) == (
        pairs.steps_per_epoch(16))


def test_unreadable_newest_backup_falls_back_to_the_previous_one(tmp_path, capsys):
    config = tiny_config(epochs=1)
    model = build_model(config)
    model.optimizer.build(model.trainable_variables)
    backup = RunBackup(tmp_path / "backup", config.to_dict())
    backup.set_model(model)
    backup.save(1)
    newest = backup.save(2)
    (newest / "state.npz").write_bytes(b"not a zip file")
    restorer = RunBackup(tmp_path / "backup", config.to_dict())
    assert restorer.restore(model) == 1
    assert "epoch-0002" in capsys.readouterr().err
    # A stale temporary backup of a killed writer is not a backup.
    (tmp_path / "backup" / "epoch-0003.tmp").mkdir()
    assert [p.name for p in restorer.backups()] == ["epoch-0002", "epoch-0001"]


class PoisonDecoder(keras.callbacks.Callback):
    """Makes the decoder output NaN from the start of epoch `epoch` (0-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.decoder.trainable_weights[0]
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_nan_loss_stops_with_epoch_and_last_good_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(FloatingPointError) as error:
        train(tiny_config(epochs=4), run_dir, frames=moving_bars(80), verbose=0,
              callbacks=[PoisonDecoder(2)])
    message = str(error.value)
    assert re.search(r"loss became nan at epoch 3, step \d+;", message)
    assert str(run_dir / "backup" / "epoch-0002") in message and "after epoch 2" in message
    assert not (run_dir / "model.keras").exists()
    # The diverged epoch was never backed up.
    assert [p.name for p in RunBackup(run_dir / "backup", {}).backups()] == [
        "epoch-0002", "epoch-0001"]


def test_nan_from_the_first_step_says_there_is_no_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError,
                       match=r"epoch 1, step \d+; no epoch completed, so there is no checkpoint"):
        train(tiny_config(epochs=2), tmp_path / "run", frames=moving_bars(80), verbose=0,
              callbacks=[PoisonDecoder(0)])


@pytest.mark.slow
def test_cli_exits_non_zero_on_a_diverging_run(tmp_path):
    frames_path = tmp_path / "frames.npy"
    np.save(frames_path, moving_bars(80))
    # sigma 1e-30 makes the reconstruction term overflow to inf at the first step.
    result = subprocess.run(
        [sys.executable, "-m", "dynamic_vae.cli", "train", "--frames", str(frames_path), *TINY,
         "--epochs", "2", "--sigma", "1e-30", "--quiet", "--output", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 2
    assert "training diverged: the loss became inf at epoch 1, step 1" in result.stderr
    assert not (tmp_path / "run" / "model.keras").exists()


def test_epoch_order_depends_only_on_seed_and_epoch():
    pairs = make_frame_pairs(moving_bars(80))
    whole = [b.numpy() for b in pairs.epoch_dataset(16, seed=5, first_epoch=0, epochs=3)]
    resumed = [b.numpy() for b in pairs.epoch_dataset(16, seed=5, first_epoch=2, epochs=3)]
    steps = pairs.steps_per_epoch(16)
    assert len(whole) == 3 * steps and len(resumed) == steps
    for a, b in zip(whole[2 * steps:], resumed):
        np.testing.assert_array_equal(a, b)
    # Each epoch is a permutation of the training windows, and epochs differ in order.
    first = np.concatenate(whole[:steps])[:, 0]
    second = np.concatenate(whole[steps:2 * steps])[:, 0]
    expected = np.sort(pairs.frames[pairs.window_starts()].reshape(len(first), -1), axis=0)
    np.testing.assert_array_equal(np.sort(first.reshape(len(first), -1), axis=0), expected)
    assert not np.array_equal(first, second)
