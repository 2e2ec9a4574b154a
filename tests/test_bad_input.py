"""Bad input at every public entry point gets a clear error and leaves nothing half-written.

Each case names the entry point and the bad input; the error must name the argument or file
and say what was expected and what was found.
"""

import json
import zipfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_vae.baseline import LinearDynamicTexture
from dynamic_vae.cli import main
from dynamic_vae.config import RunConfig
from dynamic_vae.data.frame_pairs import make_frame_pairs, validate_frames
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import load_run, save_model
from dynamic_vae.training import build_model

GOOD = np.zeros((6, 8, 8), np.uint8)

# --- validate_frames / make_frame_pairs ------------------------------------------------------

FRAME_CASES = {
    "not an array": ([[0, 1], [1, 0]], r"frames: expected a numpy array, got list"),
    "int32 dtype": (GOOD.astype(np.int32), r"frames: expected dtype uint8.*got int32"),
    "bool dtype": (GOOD.astype(bool), r"frames: expected dtype uint8.*got bool"),
    "complex dtype": (GOOD.astype(np.complex64), r"got complex64"),
    "object dtype": (GOOD.astype(object), r"got object"),
    "rank 2": (np.zeros((6, 8), np.uint8), r"expected shape \(T, H, W\) or \(T, H, W, C\), "
                                           r"got \(6, 8\)"),
    "rank 5": (np.zeros((2, 6, 8, 8, 1), np.uint8), r"got \(2, 6, 8, 8, 1\)"),
    "one frame": (np.zeros((1, 8, 8), np.uint8), r"need at least 2 frames.*got 1"),
    "no frames": (np.zeros((0, 8, 8), np.uint8), r"need at least 2 frames.*got 0"),
    "2 channels": (np.zeros((4, 8, 8, 2), np.uint8), r"expected 1 \(gray\) or 3 \(RGB\) "
                                                     r"channels, got 2"),
    "4 channels": (np.zeros((4, 8, 8, 4), np.uint8), r"channels, got 4"),
    "empty side": (np.zeros((4, 0, 8), np.uint8), r"empty side, shape \(4, 0, 8, 1\)"),
    "NaN": (np.where(np.arange(4 * 64).reshape(4, 8, 8) == 70, np.nan, 0.5).astype(np.float32),
            r"1 NaN/inf values, the first at index \(1, 0, 6, 0\)"),
    "inf": (np.full((4, 8, 8), np.inf, np.float32), r"256 NaN/inf values"),
    "float above 1": (np.full((4, 8, 8), 255.0, np.float32),
                      r"float frames must lie in \[0, 1\], got values in \[255, 255\]"),
    "negative float": (np.full((4, 8, 8), -0.5, np.float64), r"got values in \[-0.5, -0.5\]"),
}


@pytest.mark.parametrize("frames, message", FRAME_CASES.values(), ids=FRAME_CASES.keys())
def test_validate_frames_rejects(frames, message):
    with pytest.raises(ValueError, match=message):
        validate_frames(frames)


@pytest.mark.parametrize("call, message", [
    (lambda: make_frame_pairs([]), r"sequences: expected at least one frame sequence, got none"),
    (lambda: make_frame_pairs([GOOD, np.zeros((6, 8, 9), np.uint8)]),
     r"sequences\[1\]: frame shape \(8, 9, 1\) differs from sequences\[0\]'s \(8, 8, 1\)"),
    (lambda: make_frame_pairs([GOOD, GOOD[:1]]), r"sequences\[1\]: need at least 2 frames"),
    (lambda: make_frame_pairs(GOOD, holdout=5), r"holdout: pair index 5 is out of range for "
                                                r"5 pairs"),
    (lambda: make_frame_pairs(GOOD, holdout=-6), r"holdout: pair index -6 is out of range"),
    (lambda: make_frame_pairs(GOOD[:2]), r"1 pair\(s\) leave nothing to train on"),
    (lambda: make_frame_pairs(GOOD).dataset(0), r"batch_size must be >= 1, got 0"),
    (lambda: make_frame_pairs(GOOD).dataset(4, window=7),
     r"window: no run of 7 consecutive training frames"),
    (lambda: make_frame_pairs(GOOD).dataset(4, window=1), r"window must be >= 2 frames, got 1"),
    (lambda: make_frame_pairs(GOOD).epoch_dataset(0, 0, 0, 2), r"batch_size must be >= 1"),
    (lambda: make_frame_pairs(GOOD).epoch_dataset(4, 0, 3, 2),
     r"first_epoch must lie in \[0, epochs=2\], got 3"),
])
def test_pair_pipeline_rejects(call, message):
    with pytest.raises(ValueError, match=message):
        call()


frame_shapes = st.tuples(st.integers(2, 9), st.integers(1, 5), st.integers(1, 5),
                         st.sampled_from([1, 3]))
frame_arrays = st.one_of(
    hnp.arrays(np.uint8, frame_shapes),
    hnp.arrays(np.float32, frame_shapes, elements=st.floats(0, 1, width=32)))


@settings(max_examples=40, deadline=None)
@given(frames=frame_arrays, window=st.integers(2, 4))
def test_pairs_of_valid_frames_are_consecutive_and_never_the_held_out_one(frames, window):
    if len(frames) < 3:
        with pytest.raises(ValueError, match="leave nothing to train on"):
            make_frame_pairs(frames)
        return
    pairs = make_frame_pairs(frames)
    unit = frames.astype(np.float32) / (255.0 if frames.dtype == np.uint8 else 1.0)
    assert pairs.test_starts.tolist() == [len(frames) - 2]
    starts = pairs.window_starts(window)
    assert not np.isin(np.arange(window - 1)[:, None] + starts, pairs.test_starts).any()
    if len(starts) == 0:
        with pytest.raises(ValueError, match=f"no run of {window} consecutive"):
            pairs.dataset(2, window=window)
        return
    seen = np.concatenate([b.numpy() for b in pairs.epoch_dataset(2, 0, 0, 1, window=window)])
    assert seen.shape == (len(starts), window, *pairs.frame_shape)
    # Each window is `window` consecutive input frames.
    expected = np.stack([unit[starts + k] for k in range(window)], axis=1)
    order = np.lexsort(seen.reshape(len(seen), -1).T)
    expected_order = np.lexsort(expected.reshape(len(expected), -1).T)
    np.testing.assert_allclose(seen[order], expected[expected_order], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(frames=hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int16, np.int64, np.uint16]),
    shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4)))
def test_any_invalid_frames_raise_a_value_error_naming_the_argument(frames):
    try:
        validate_frames(frames, name="--frames x.npy")
    except ValueError as error:
        assert str(error).startswith("--frames x.npy: ")
    else:
        # Accepted: then it really is a valid sequence.
        assert frames.dtype.name in ("float32", "float64") and frames.ndim in (3, 4)
        assert frames.ndim == 3 or frames.shape[-1] in (1, 3)
        assert len(frames) >= 2 and np.isfinite(frames).all()
        assert frames.min() >= 0 and frames.max() <= 1


# --- configs -------------------------------------------------------------------------------

CONFIG_CASES = {
    "unknown section": ({"optimizer": {}}, r"unknown config sections \['optimizer'\]"),
    "unknown field": ({"model": {"latent_dims": 3}},
                      r"unknown ModelConfig fields \['latent_dims'\]; known fields are"),
    "section not a dict": ({"model": 5}, r"config section 'model': expected a mapping of "
                                         r"fields, got int"),
    "not a dict": ([1, 2], r"config: expected a mapping with sections 'model' and 'training', "
                           r"got list"),
    "latent_dim a string": ({"model": {"latent_dim": "ten"}},
                            r"latent_dim: expected int, got str 'ten'"),
    "latent_dim a float": ({"model": {"latent_dim": 2.5}}, r"latent_dim: expected int, got "
                                                          r"float 2.5"),
    "latent_dim a bool": ({"model": {"latent_dim": True}}, r"latent_dim: expected int, got "
                                                          r"bool"),
    "latent_dim zero": ({"model": {"latent_dim": 0}}, r"latent_dim must be >= 1, got 0"),
    "frame_shape rank 2": ({"model": {"frame_shape": [32, 32]}},
                           r"frame_shape must be \(height, width, channels\).*got \(32, 32\)"),
    "frame_shape zero": ({"model": {"frame_shape": [0, 32, 1]}}, r"got \(0, 32, 1\)"),
    "frame_shape strings": ({"model": {"frame_shape": ["a", 3, 1]}},
                            r"frame_shape: expected 3 ints"),
    "pixel_range reversed": ({"model": {"pixel_range": [1, 0]}}, r"low < high, got \(1.0, 0.0\)"),
    "sigma negative": ({"model": {"sigma": -1}}, r"sigma must be > 0, got -1"),
    "sigma NaN": ({"model": {"sigma": float("nan")}}, r"sigma: expected a finite number, "
                                                     r"got nan"),
    "encoder_mode": ({"model": {"encoder_mode": "video"}}, r"encoder_mode must be one of"),
    "posterior": ({"model": {"posterior": "exact"}}, r"posterior must be one of"),
    "smoothed pair": ({"model": {"posterior": "smoothed", "encoder_mode": "pair"}},
                      r"posterior 'smoothed' needs encoder_mode 'frame'"),
    "learning_rate zero": ({"training": {"learning_rate": 0}}, r"learning_rate must be > 0"),
    "learning_rate a string": ({"training": {"learning_rate": "fast"}},
                               r"learning_rate: expected a number, got str 'fast'"),
    "batch_size zero": ({"training": {"batch_size": 0}}, r"batch_size must be >= 1, got 0"),
    "window 1": ({"training": {"window": 1}}, r"window must be >= 2 frames, got 1"),
    "num_frames 1": ({"training": {"num_frames": 1}}, r"num_frames must be >= 2, got 1"),
    "jit_compile a string": ({"training": {"jit_compile": "yes"}},
                             r"jit_compile: expected true or false, got str 'yes'"),
}


@pytest.mark.parametrize("data, message", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_run_config_from_dict_rejects(data, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.from_dict(data)


# --- command line --------------------------------------------------------------------------


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def truncated_npy(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((10, 8, 8), np.uint8))
    data = (tmp_path / "full.npy").read_bytes()
    return write_bytes(tmp_path / "truncated.npy", data[:len(data) // 2])


def pickled_npy(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object),
            allow_pickle=True)
    return tmp_path / "objects.npy"


def two_array_npz(tmp_path):
    np.savez(tmp_path / "two.npz", a=GOOD, b=GOOD)
    return tmp_path / "two.npz"


def npy_of(tmp_path, array):
    np.save(tmp_path / "frames.npy", array)
    return tmp_path / "frames.npy"


TRAIN_FRAMES_CASES = {
    "missing file": (lambda p: p / "nope.npy", r"--frames .*nope.npy: no such file"),
    "wrong suffix": (lambda p: write_bytes(p / "frames.txt", b"1 2 3"),
                     r"frames.txt: unsupported file type '.txt'; expected a video"),
    "empty file": (lambda p: write_bytes(p / "empty.npy", b""),
                   r"empty.npy: empty file \(0 bytes\)"),
    "garbage": (lambda p: write_bytes(p / "junk.npy", b"\x00garbage" * 10),
                r"junk.npy: cannot read it as a numpy array"),
    "truncated npy": (truncated_npy, r"truncated.npy: cannot read it as a numpy array"),
    "pickled objects": (pickled_npy, r"objects.npy: cannot read it as a numpy array"),
    "npz with two arrays": (two_array_npz, r"two.npz: holds arrays \['a', 'b'\]; expected one"),
    "corrupt npz": (lambda p: write_bytes(p / "bad.npz", b"PK\x03\x04broken"),
                    r"bad.npz: cannot read it as a numpy array"),
    "float out of range": (lambda p: npy_of(p, np.full((5, 8, 8), 2.0, np.float32)),
                           r"frames.npy.*float frames must lie in \[0, 1\], got values in \[2, 2\]"),
    "one frame": (lambda p: npy_of(p, np.zeros((1, 8, 8), np.uint8)),
                  r"frames.npy.*need at least 2 frames to form a pair, got 1"),
}


@pytest.mark.parametrize("make, message", TRAIN_FRAMES_CASES.values(),
                         ids=TRAIN_FRAMES_CASES.keys())
def test_cli_train_rejects_bad_frames_and_writes_nothing(tmp_path, capsys, make, message):
    path = make(tmp_path)
    run_dir = tmp_path / "run"
    assert main(["train", "--frames", str(path), "--output", str(run_dir), "--quiet"]) == 2
    import re

    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert not run_dir.exists()


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], r"epochs must be >= 1, got 0"),
    (["--batch-size", "-4"], r"batch_size must be >= 1, got -4"),
    (["--latent-dim", "0"], r"latent_dim must be >= 1, got 0"),
    (["--sigma", "-1"], r"sigma must be > 0, got -1"),
    (["--window", "1"], r"window must be >= 2 frames, got 1"),
    (["--encoder-mode", "video"], r"encoder_mode must be one of"),
    (["--preset", "nope"], r"unknown preset 'nope'; available presets"),
])
def test_cli_train_rejects_bad_flag_values_and_writes_nothing(tmp_path, capsys, flags, message):
    run_dir = tmp_path / "run"
    frames = npy_of(tmp_path, np.zeros((6, 8, 8), np.uint8))
    assert main(["train", "--frames", str(frames), "--output", str(run_dir), *flags]) == 2
    import re

    assert re.search(message, capsys.readouterr().err)
    assert not run_dir.exists()


@pytest.mark.parametrize("flags, message", [
    (["--strategy", "tpu"], r"argument --strategy: invalid choice: 'tpu'"),
    (["--epochs", "many"], r"argument --epochs: invalid int value: 'many'"),
    (["--jit-compile", "maybe"], r"argument --jit-compile: expected true or false, got "
                                 r"'maybe'"),
])
def test_cli_rejects_malformed_flags(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--output", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2
    import re

    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


# --- model files and run directories -------------------------------------------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run directory with an untrained tiny model (loading is what is tested)."""
    run_dir = tmp_path_factory.mktemp("run")
    config = RunConfig.from_dict({"model": {"frame_shape": [16, 16, 1], "latent_dim": 2,
                                            "base_channels": 8}})
    save_model(build_model(config), run_dir / "model.keras")
    (run_dir / "config.json").write_text(config.to_json())
    return run_dir


def copy_run(saved_run, tmp_path):
    import shutil

    shutil.copytree(saved_run, tmp_path / "run")
    return tmp_path / "run"


def corrupt_model(run_dir):
    (run_dir / "model.keras").write_bytes(b"this is not a zip archive")


def truncate_model(run_dir):
    data = (run_dir / "model.keras").read_bytes()
    (run_dir / "model.keras").write_bytes(data[: len(data) // 2])


def empty_model(run_dir):
    (run_dir / "model.keras").write_bytes(b"")


def model_with_bad_weights(run_dir):
    path = run_dir / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = b"not hdf5"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def model_of_another_class(run_dir):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(run_dir / "model.keras")


def delete_model(run_dir):
    (run_dir / "model.keras").unlink()


def corrupt_config(run_dir):
    (run_dir / "config.json").write_text('{"model": {"latent_dim": 2')


def config_not_a_dict(run_dir):
    (run_dir / "config.json").write_text("[1, 2, 3]")


RUN_CASES = {
    "not a zip": (corrupt_model, r"model.keras: cannot load the model"),
    "truncated": (truncate_model, r"model.keras: cannot load the model"),
    "empty": (empty_model, r"model.keras: cannot load the model"),
    "corrupted weights": (model_with_bad_weights, r"model.keras: cannot load the model"),
    "another class": (model_of_another_class, r"model.keras: expected a DynamicVAE, got "
                                              r"Sequential"),
    "missing model": (delete_model, r"not a finished run directory \(model.keras is missing\)"),
    "truncated config.json": (corrupt_config, r"config.json: not valid JSON"),
    "config.json a list": (config_not_a_dict, r"config.json: expected a JSON object, got list"),
}


@pytest.mark.parametrize("damage, message", RUN_CASES.values(), ids=RUN_CASES.keys())
def test_load_run_rejects_damaged_run_directories(saved_run, tmp_path, damage, message):
    run_dir = copy_run(saved_run, tmp_path)
    damage(run_dir)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_run(run_dir)


@pytest.mark.parametrize("damage", [corrupt_model, truncate_model, corrupt_config])
def test_cli_generate_and_inspect_on_damaged_runs_exit_2_and_write_nothing(
        saved_run, tmp_path, capsys, damage):
    run_dir = copy_run(saved_run, tmp_path)
    damage(run_dir)
    out = tmp_path / "out.npy"
    assert main(["generate", str(run_dir), "--length", "3", "--out", str(out)]) == 2
    assert main(["inspect", str(run_dir)]) == 2
    errors = capsys.readouterr().err
    assert errors.count(str(run_dir)) >= 2
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("flags, message", [
    (["--length", "0"], r"--length must be >= 1, got 0"),
    (["--out", "x.txt"], r"unsupported format '.txt'"),
    (["--from-pair", "pair3.npy"], r"--from-pair .*pair3.npy: expected a frame pair of shape "
                                   r"\(2, H, W\[, C\]\), got \(3, 16, 16\)"),
    (["--from-pair", "missing.npy"], r"--from-pair .*missing.npy: no such file"),
])
def test_cli_generate_rejects_bad_flags(saved_run, tmp_path, capsys, flags, message):
    import re

    np.save(tmp_path / "pair3.npy", np.zeros((3, 16, 16), np.uint8))
    flags = [str(tmp_path / f) if f.endswith(".npy") or f.endswith(".txt") else f
             for f in flags]
    out = tmp_path / "out.npy"
    args = ["generate", str(saved_run), "--length", "3", "--out", str(out)]
    assert main(args + flags) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04junk", b"not an npz"])
def test_baseline_load_rejects_damaged_files(tmp_path, content):
    path = write_bytes(tmp_path / "baseline.npz", content)
    with pytest.raises(ValueError, match=r"baseline.npz: not a saved LinearDynamicTexture"):
        LinearDynamicTexture.load(path)


def test_backup_with_corrupted_state_json_is_skipped_or_named(tmp_path, saved_run):
    backup_dir = tmp_path / "backup" / "epoch-0001"
    backup_dir.mkdir(parents=True)
    (backup_dir / "state.json").write_text("{broken")
    backup = RunBackup(tmp_path / "backup", {"model": {}})
    # An unreadable backup is no backup: nothing to compare, nothing to restore.
    backup.check_config()
    model = load_run(saved_run).model
    model.compile(optimizer="adam")
    model.optimizer.build(model.trainable_variables)
    assert backup.restore(model) == 0
    (backup_dir / "state.json").write_text(json.dumps({"epoch": 1}))
    assert backup.restore(model) == 0
