"""End to end through the `dynamic-vae` command line on real digits (tiny model, few steps)."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from dynamic_vae.cli import main

pytestmark = pytest.mark.slow


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dynamic_vae.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    # One stage (the preset's fine-tuning stage has a test of its own below).
    result = run_cli("train", "--preset", "counting-mnist", "--cycle", "1234",
                     "--num-frames", "300", "--epochs", "3", "--finetune-epochs", "0",
                     "--variety-epochs", "0",
                     "--latent-dim", "4", "--image-every", "2", "--quiet", "--output", run_dir)
    assert result.returncode == 0, result.stderr
    assert "trained 3 epochs" in result.stdout
    return run_dir


def test_train_writes_a_complete_run_directory(trained_run):
    for name in ("model.keras", "config.json", "history.csv", "history.json",
                 "training_curves.png", "summary.json"):
        assert (trained_run / name).is_file(), name
    from dynamic_vae.runs import load_run

    run = load_run(trained_run)
    assert run.config.training.cycle == "1234" and run.config.model.latent_dim == 4
    assert run.data_source == "counting-mnist"
    history = json.loads((trained_run / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    for term in ("reconstruction", "kl", "stationarity_residual", "spectral_radius"):
        assert len(history[term]) == 3
    event_files = list((trained_run / "logs").rglob("events.out.tfevents.*"))
    assert len(event_files) >= 2  # Keras scalars and our dynamics/image writer
    # No temporary files left behind by the atomic writers.
    assert not [p for p in trained_run.iterdir() if p.name.startswith(".")]


def test_tensorboard_has_spectral_radius_and_strip_image(trained_run):
    import tensorflow as tf

    tags = set()
    for path in (trained_run / "logs" / "dynamics").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    assert {"spectral_radius", "stationarity_residual", "synthesised_strip"} <= tags


@pytest.mark.parametrize("suffix", [".npy", ".gif", ".png", ".mp4"])
def test_generate_every_format(trained_run, tmp_path, suffix):
    out = tmp_path / f"seq{suffix}"
    assert main(["generate", str(trained_run), "--length", "20", "--seed", "0",
                 "--out", str(out)]) == 0
    if suffix == ".npy":
        frames = np.load(out)
        assert frames.shape == (20, 32, 32, 1) and frames.dtype == np.uint8
        again = tmp_path / "again.npy"
        main(["generate", str(trained_run), "--length", "20", "--seed", "0", "--out",
              str(again)])
        np.testing.assert_array_equal(np.load(again), frames)
    elif suffix == ".gif":
        assert iio.imread(out).shape[0] == 20
    else:
        assert out.stat().st_size > 0


def test_generate_from_a_frame_pair(trained_run, tmp_path, counting_frames):
    pair_path = tmp_path / "pair.npy"
    np.save(pair_path, counting_frames[0][:2])
    out = tmp_path / "seq.npy"
    assert main(["generate", str(trained_run), "--length", "5", "--from-pair", str(pair_path),
                 "--out", str(out)]) == 0
    assert np.load(out).shape == (5, 32, 32, 1)


def test_generate_starts_from_the_held_out_test_pair_by_default(trained_run, tmp_path,
                                                                 capsys):
    from dynamic_vae.data import counting_mnist
    from dynamic_vae.runs import load_run
    from dynamic_vae.synthesis import initial_state_from_pair, synthesize

    # The run keeps its held-out pair: the last pair of its 300 training frames, in [0, 1].
    kept = np.load(trained_run / "test_pairs.npy")
    assert kept.shape == (1, 2, 32, 32, 1) and kept.dtype == np.float32
    frames, _ = counting_mnist("1234", num_frames=300, seed=0)  # the run's training frames
    np.testing.assert_allclose(kept[0], frames[-2:] / 255.0, atol=1e-6)
    outputs = {}
    for name, flags in {"default": [], "test_pair": ["--start", "test-pair"],
                        "prior": ["--start", "prior"]}.items():
        outputs[name] = tmp_path / f"{name}.npy"
        assert main(["generate", str(trained_run), "--length", "12", "--seed", "3",
                     *flags, "--out", str(outputs[name])]) == 0
        assert "x0: " in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(outputs["default"]), np.load(outputs["test_pair"]))
    model = load_run(trained_run).model
    expected, latents = synthesize(model, 12, seed=3, initial_pair=frames[-2:])
    np.testing.assert_array_equal(np.load(outputs["default"]), expected[0])
    np.testing.assert_allclose(latents[0, 0], initial_state_from_pair(model, frames[-2:]),
                               atol=1e-5)
    prior, _ = synthesize(model, 12, seed=3)
    np.testing.assert_array_equal(np.load(outputs["prior"]), prior[0])
    assert not np.array_equal(np.load(outputs["prior"]), np.load(outputs["default"]))


def test_generate_without_a_kept_test_pair(trained_run, tmp_path, capsys):
    import shutil

    old_run = tmp_path / "old-run"
    shutil.copytree(trained_run, old_run)
    (old_run / "test_pairs.npy").unlink()
    out = tmp_path / "seq.npy"
    # Runs from before runs kept their pair fall back to the prior, and say so.
    assert main(["generate", str(old_run), "--length", "4", "--out", str(out)]) == 0
    assert "the run has no test_pairs.npy" in capsys.readouterr().out
    out.unlink()
    assert main(["generate", str(old_run), "--length", "4", "--start", "test-pair", "--out",
                 str(out)]) == 2
    assert f"{old_run / 'test_pairs.npy'} is missing" in capsys.readouterr().err
    assert not out.exists()
    (old_run / "test_pairs.npy").write_bytes(b"not an array")
    assert main(["generate", str(old_run), "--length", "4", "--out", str(out)]) == 2
    assert "test_pairs.npy: not a readable .npy array" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one start only
        main(["generate", str(old_run), "--start", "prior", "--from-pair", str(out), "--out",
              str(out)])
    assert not out.exists()


def test_inspect_prints_the_spectrum(trained_run, capsys):
    assert main(["inspect", str(trained_run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["eigenvalues"]) == 4 and report["spectral_radius"] > 0
    assert main(["inspect", str(trained_run)]) == 0
    assert "spectral radius of A" in capsys.readouterr().out


def test_train_on_a_video_then_evaluate_reads_it_again(tmp_path, shared_data):
    from dynamic_vae.data import load_video
    from dynamic_vae.evaluation.run_evaluation import load_run_frames
    from dynamic_vae.runs import load_run

    clip = shared_data / "dyntex" / "fountain.avi"
    run_dir = tmp_path / "run"
    assert main(["train", "--frames", str(clip), "--rgb", "--size", "24x20", "--stride", "2",
                 "--max-frames", "40", "--epochs", "1", "--finetune-epochs", "1",
                 "--windows-per-epoch", "16", "--latent-dim", "3",
                 "--batch-size", "8", "--image-every", "0", "--quiet", "--jit-compile", "false",
                 "--output", str(run_dir)]) == 0
    run = load_run(run_dir)
    assert run.config.model.frame_shape == (24, 20, 3)
    # config.json records the loader's options, so evaluation reads the same frames again.
    assert run.data["loader"] == {"color": "rgb", "size": [24, 20], "crop": "center",
                                  "stride": 2, "max_frames": 40}
    expected = load_video(clip, color="rgb", size=(24, 20), stride=2, max_frames=40)
    np.testing.assert_allclose(load_run_frames(run), expected / 255.0, atol=1e-6)
    assert main(["evaluate", str(run_dir), "--seeds", "1", "--horizon", "12"]) == 0
    assert (run_dir / "evaluation" / "metrics.json").is_file()
    out = tmp_path / "seq.npy"
    assert main(["generate", str(run_dir), "--length", "7", "--out", str(out)]) == 0
    assert np.load(out).shape == (7, 24, 20, 3)


def test_train_with_the_smoothed_posterior_then_generate_and_forecast(tmp_path):
    run_dir = tmp_path / "smoothed"
    assert main(["train", "--preset", "counting-mnist", "--posterior", "smoothed",
                 "--stationarity-weight", "10000", "--num-frames", "100", "--epochs", "2",
                 "--window", "3", "--latent-dim", "4", "--base-channels", "8",
                 "--finetune-epochs", "0", "--variety-epochs", "0", "--image-every", "0",
                 "--quiet", "--output", str(run_dir)]) == 0
    from dynamic_vae.runs import load_run

    assert load_run(run_dir).config.model.posterior == "smoothed"
    history = json.loads((run_dir / "history.json").read_text())
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]
    out = tmp_path / "seq.npy"
    assert main(["generate", str(run_dir), "--length", "6", "--seed", "1", "--out",
                 str(out)]) == 0
    assert np.load(out).shape == (6, 32, 32, 1)
    # The Kalman forecast reads the encoder as the smoothed posterior does.
    clip = tmp_path / "clip.npy"
    np.save(clip, np.load(out)[:4])
    mean = tmp_path / "forecast.npy"
    assert main(["forecast", str(run_dir), "--frames", str(clip), "--steps", "3", "--out",
                 str(mean)]) == 0
    assert np.load(mean).shape == (3, 32, 32, 1)


def test_init_from_warm_starts_a_run_and_checks_the_architecture(trained_run, tmp_path,
                                                                  capsys):
    from dynamic_vae.runs import load_run

    source = load_run(trained_run).model
    run_dir = tmp_path / "finetuned"
    common = ["train", "--preset", "counting-mnist", "--num-frames", "300", "--epochs", "1",
              "--latent-dim", "4", "--image-every", "0", "--quiet", "--init-from",
              str(trained_run), "--finetune-epochs", "0", "--variety-epochs", "0"]
    # A learning rate of 1e-9 leaves the copied weights where they were.
    assert main(common + ["--posterior", "smoothed", "--learning-rate", "1e-9",
                          "--prediction-shrink", "0.9", "--output", str(run_dir)]) == 0
    tuned_run = load_run(run_dir)
    tuned = tuned_run.model
    assert tuned_run.init_from == str(trained_run)
    assert tuned_run.config.model.posterior == "smoothed"
    # The networks and the dynamic layer are copied (stored start states are refitted from
    # the new run's posterior).
    for part in ("encoder", "decoder", "dynamic_layer"):
        for theirs, ours in zip(getattr(source, part).get_weights(),
                                getattr(tuned, part).get_weights()):
            if theirs.shape == ours.shape and theirs.size > 1:
                # float32 weights of order 1 (a learning rate of 1e-9 moves them by less).
                np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(tuned.transition()[0], source.transition()[0], atol=1e-5)
    # A fresh model would start at A = 0.71 I.
    assert not np.allclose(tuned.transition()[0], 0.70711 * np.eye(4), atol=1e-3)
    assert main(common[:7] + ["--latent-dim", "5"] + common[9:] +
                ["--output", str(tmp_path / "wrong")]) == 2
    error = capsys.readouterr().err
    assert "its latent_dim is 4 but this run's is 5" in error
    assert not (tmp_path / "wrong" / "model.keras").exists()


@pytest.mark.parametrize("args,message", [
    (["generate", "{run}", "--length", "0", "--out", "{tmp}/x.npy"], "--length must be >= 1"),
    (["generate", "{run}", "--out", "{tmp}/x.avi"], "unsupported format"),
    (["generate", "{tmp}/missing", "--out", "{tmp}/x.npy"], "not a finished run directory"),
    (["train", "--frames", "{tmp}/missing.npy", "--output", "{tmp}/r"], "no such file"),
    (["generate", "{run}", "--from-pair", "{tmp}/bad.npy", "--out", "{tmp}/x.npy"],
     "expected a frame pair of shape (2, H, W[, C]), got (1, 8, 8)"),
    (["generate", "{run}", "--from-pair", "{tmp}/garbage.npy", "--out", "{tmp}/x.npy"],
     "--from-pair"),
    (["train", "--frames", "{tmp}/bad.npy", "--output", "{tmp}/r"], "at least 2 frames"),
    (["train", "--preset", "nope", "--output", "{tmp}/r"], "unknown preset"),
    (["train", "--cycle", "11", "--output", "{tmp}/r"], "cycle"),
    (["train", "--sigma", "-1", "--output", "{tmp}/r"], "sigma must be > 0"),
])
def test_bad_input_gives_a_clear_error_and_no_output(trained_run, tmp_path, capsys, args,
                                                     message):
    np.save(tmp_path / "bad.npy", np.zeros((1, 8, 8), np.uint8))
    (tmp_path / "garbage.npy").write_bytes(b"not an array")
    args = [a.format(run=trained_run, tmp=tmp_path) for a in args]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists() and not (tmp_path / "x.avi").exists()
    assert not (tmp_path / "r" / "model.keras").exists()


def test_baseline_fit_and_generate_on_counting_digits(tmp_path):
    run_dir = tmp_path / "ldt"
    assert main(["baseline", "--num-frames", "400", "--latent-dim", "8",
                 "--output", str(run_dir)]) == 0
    assert (run_dir / "baseline.npz").is_file()
    out = tmp_path / "seq.npy"
    assert main(["generate", str(run_dir), "--length", "30", "--seed", "2", "--out",
                 str(out)]) == 0
    frames = np.load(out)
    assert frames.shape == (30, 32, 32, 1) and frames.dtype == np.uint8
    assert np.load(run_dir / "test_pairs.npy").shape == (1, 2, 32, 32, 1)
    prior = tmp_path / "prior.npy"
    assert main(["generate", str(run_dir), "--length", "30", "--seed", "2", "--start", "prior",
                 "--out", str(prior)]) == 0
    assert not np.array_equal(np.load(prior), frames)
    again = tmp_path / "again.npy"
    main(["generate", str(run_dir), "--length", "30", "--seed", "2", "--out", str(again)])
    np.testing.assert_array_equal(np.load(again), frames)
