"""`dynamic-vae experiment periodic`: clip resolution, argument checks, conditions, and a tiny
end-to-end run on a synthetic cyclic video (a blob going round a circle every 6 frames)."""

import argparse
import json

import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.experiments import FAMILIES
from dynamic_vae.evaluation.pose_advance import fourier_loop_accuracies
from dynamic_vae.experiments.periodic_experiment import (PeriodicExperiment, clip_paths,
                                                         parse_periods, resolve_clip)
from dynamic_vae.outputs import write_frames
from dynamic_vae.runs import load_run
from tests.helpers.moving_blob import moving_blob

FAST = ["--epochs", "1", "--finetune-epochs", "1", "--seeds", "2", "--horizon", "40", "--quiet"]


@pytest.fixture
def blob_video(tmp_path):
    """A 24-frame 16x16 GIF of a blob going round once every 6 frames (lossless for gray)."""
    path = tmp_path / "blob.gif"
    write_frames(path, moving_blob(24, 6), fps=25)
    return path


def family_args(**given) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    PeriodicExperiment().add_arguments(parser)
    args = parser.parse_args([])
    args.preset, args.epochs = PeriodicExperiment.default_preset, None
    for key, value in given.items():
        setattr(args, key, value)
    return args


def test_registered_with_its_flags(capsys):
    assert isinstance(FAMILIES["periodic"], PeriodicExperiment)
    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "periodic", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--clips", "--size", "--color", "--crop", "--period", "--pairs-per-epoch",
                 "--seeds", "--horizon", "--preset"):
        assert flag in text


def test_bare_names_are_read_from_the_data_folder(tmp_path, monkeypatch):
    (tmp_path / "running").mkdir()
    (tmp_path / "running" / "lynx.mp4").write_bytes(b"")
    assert resolve_clip("lynx", tmp_path) == tmp_path / "running" / "lynx.mp4"
    monkeypatch.setenv("DYNAMIC_VAE_DATA", str(tmp_path))
    assert resolve_clip("lynx", None) == tmp_path / "running" / "lynx.mp4"
    with pytest.raises(FileNotFoundError, match=r"--clips: expected a video file, or a bare "
                                                r"name NAME read as .*running/NAME\.mp4; got "
                                                r"'puma', and .*running/puma\.mp4 does not"):
        resolve_clip("puma", None)
    monkeypatch.delenv("DYNAMIC_VAE_DATA")
    with pytest.raises(ValueError, match="--data-dir: no data folder given"):
        resolve_clip("lynx", None)


def test_paths_are_taken_as_they_are(blob_video, tmp_path):
    assert clip_paths(f" {blob_video} ", None) == [blob_video]
    with pytest.raises(FileNotFoundError, match=r"--clips: expected an existing video file .*"
                                                r"got '.*missing\.mp4': no such file"):
        clip_paths(str(tmp_path / "missing.mp4"), None)
    with pytest.raises(ValueError, match=r"--clips: expected comma-separated video files or "
                                         r"bare names, got ' , '"):
        clip_paths(" , ", None)
    with pytest.raises(ValueError, match="--clips: expected distinct clips"):
        clip_paths(f"{blob_video},{blob_video}", None)
    other = tmp_path / "other"
    other.mkdir()
    (other / "blob.gif").write_bytes(blob_video.read_bytes())
    with pytest.raises(ValueError, match="distinct names, got .* \\(both 'blob'\\)"):
        clip_paths(f"{blob_video},{other / 'blob.gif'}", None)


def test_parse_periods():
    assert parse_periods(None, 2) == [None, None]
    assert parse_periods("30", 2) == [30, 30]
    assert parse_periods("30,63", 2) == [30, 63]
    for bad in ("30,63,7", "x", ""):
        with pytest.raises(ValueError, match=f"--period: expected one integer, or one per clip "
                                             f"\\(2 comma-separated integers\\), got '{bad}'"):
            parse_periods(bad, 2)


def test_conditions_estimate_or_take_the_period(blob_video):
    (condition,) = PeriodicExperiment().conditions(family_args(clips=str(blob_video), size=16))
    labels = condition.labels
    assert condition.name == "blob-gray16"
    assert (labels["clip"], labels["frames"], labels["period"]) == ("blob", 24, 6)
    assert labels["period_estimated"] and labels["period_estimate"] == 6
    assert labels["frame"] == "gray 16x16, whole frame"
    # The views are the clip's first cycle; the model trains on every frame.
    assert condition.frames.shape == (24, 16, 16, 1)
    np.testing.assert_array_equal(labels["views"], condition.frames[:6])
    config = condition.config
    assert config.model.frame_shape == (16, 16, 1)
    # The video preset keeps its own budget of windows per epoch unless asked otherwise.
    assert config.training.windows_per_epoch == 1024

    (given,) = PeriodicExperiment().conditions(family_args(
        clips=str(blob_video), size=16, period="12", pairs_per_epoch=100, color="rgb",
        crop="center"))
    assert given.labels["period"] == 12 and not given.labels["period_estimated"]
    assert given.labels["period_estimate"] == 6
    assert given.name == "blob-rgb16-centre" and given.frames.shape == (24, 16, 16, 3)
    # 100 pairs in windows of L frames (L - 1 pairs each), rounded up, in both stages.
    window = given.config.training.window
    assert given.config.training.windows_per_epoch == -(-100 // (window - 1))
    assert given.config.finetune_stage().training.windows_per_epoch == -(-100 // (window - 1))
    # A preset without a budget gets 720 pairs per epoch (pairs: windows of 2).
    (paper,) = PeriodicExperiment().conditions(family_args(
        clips=str(blob_video), size=16, preset="paper-v1"))
    assert paper.config.training.windows_per_epoch == 720


def test_bad_input_names_the_flag(blob_video, tmp_path, capsys, rng):
    output = tmp_path / "bad"
    base = ["experiment", "periodic", "--output", str(output), "--size", "16"]
    cases = [
        (["--clips", str(tmp_path / "gone.mp4")], "--clips: expected an existing video file"),
        (["--clips", ","], "--clips: expected comma-separated video files or bare names"),
        (["--clips", f"{blob_video},{blob_video}"], "--clips: expected distinct clips"),
        (["--clips", str(blob_video), "--period", "1"],
         "--period: expected 2 <= P <= 12 for"),
        (["--clips", str(blob_video), "--period", "13"], "the clip's 24 frames must show the "
                                                         "cycle at least twice), got 13"),
        (["--clips", str(blob_video), "--period", "6,6"], "--period: expected one integer, or "
                                                          "one per clip (1 comma-separated"),
        (["--clips", str(blob_video), "--size", "20"], "multiple of 8, got 20"),
        (["--clips", str(blob_video), "--pairs-per-epoch", "0"],
         "--pairs-per-epoch: expected >= 1, got 0"),
    ]
    noise = tmp_path / "noise.gif"
    write_frames(noise, rng.uniform(0, 1, (24, 16, 16, 1)).astype(np.float32))
    cases.append((["--clips", str(noise)], "give the period with --period"))
    short = tmp_path / "short.gif"
    write_frames(short, moving_blob(10, 5))
    cases.append((["--clips", str(short)], "expected at least 12 frames (10-step "
                                           "predictions), got 10"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    cases.append((["--clips", str(broken)], f"--clips {broken}: "))
    for flags, message in cases:
        assert main([*base, *flags]) == 2, flags
        error = capsys.readouterr().err
        assert message in error, (flags, error)
    assert "no period between 2 and 12 frames" in (
        main([*base, "--clips", str(noise)]), capsys.readouterr().err)[1]
    assert not output.exists()


def test_the_fourier_loop_is_scored_like_the_models():
    """A blob going round every 6 frames is its own Fourier series: the loop advances one
    phase per frame at every step, for every seed; given a wrong period it does not."""
    clip = moving_blob(36, 6)
    assert fourier_loop_accuracies(clip[:-1], 6, clip[:6], 1, [0, 1, 2], 60) == [1.0] * 3
    # Twice the period is a period too: its harmonic 2 is the cycle's fundamental.
    assert fourier_loop_accuracies(clip[:-1], 12, clip[:6], 1, [0], 60) == [1.0]
    # No harmonic of 9 frames turns once every 6 (2 pi / 6 is harmonic 1.5): the fit holds
    # little but the mean, and the loop stands on one view.
    assert fourier_loop_accuracies(clip[:-1], 9, clip[:6], 1, [0], 60) == [0.0]


@pytest.mark.slow
def test_experiment_periodic_tiny(blob_video, tmp_path, capsys):
    output = tmp_path / "periodic"
    code = main(["experiment", "periodic", "--clips", str(blob_video), "--size", "16",
                 "--pairs-per-epoch", "16", "--output", str(output), *FAST])
    assert code == 0, capsys.readouterr().err
    results = json.loads((output / "results.json").read_text())
    assert results["family"] == "periodic"
    assert (results["seeds"], results["horizon"]) == (2, 40)
    (row,) = results["rows"]
    assert (row["clip"], row["frames"], row["period"]) == ("blob", 24, 6)
    assert row["period_estimated"] is True and row["period_source"] == "estimated"
    for key in ("pose_advance_dvae", "pose_advance_dvae_min", "pose_advance_lds",
                "pose_advance_lds_min", "pose_advance_fourier", "pose_advance_fourier_min"):
        assert 0 <= row[key] <= 1, key
    assert row["pose_advance_dvae_min"] <= row["pose_advance_dvae"]
    # The evaluation's cycle-to-cycle distance of the synthesis, over the clip's.
    metrics = json.loads((output / "blob-gray16" / "evaluation" / "metrics.json").read_text())
    cycle = metrics["cycle_distance"]
    assert row["cycle_distance_dvae"] == cycle["dynamic_vae"]["cycle_distance_ratio"]
    assert row["cycle_distance_lds"] == cycle["linear_baseline"]["cycle_distance_ratio"]
    # The blob is its own Fourier series over the estimated period: the loop never misses.
    assert row["pose_advance_fourier_per_seed"] == [1.0, 1.0]
    for suffix in ("dvae", "lds"):
        per_seed = row[f"pose_advance_{suffix}_per_seed"]
        assert len(per_seed) == 2
        assert row[f"pose_advance_{suffix}"] == pytest.approx(np.mean(per_seed))
        assert 0 <= row[f"k1_{suffix}"] <= 1 and row[f"std_ratio_{suffix}"] > 0
    # The real clip advances one frame round its cycle at every step.
    assert row["pose_advance_ground_truth"] == 1.0
    assert row["train_seconds"] > 0 and row["spectral_radius"] <= 1 + 1e-6
    run = output / "blob-gray16"
    summary = json.loads((run / "summary.json").read_text())
    # The last pair of the clip is the held-out one.
    assert summary["test_pair_starts"] == [22]
    # The clip's period is locked after training, and synthesis starts on stored states.
    # (64 stored, of which as many distinct as the clip has training frames to space out)
    assert 1 <= summary["start_states"] <= 64
    assert isinstance(summary["locked_harmonics"], list)
    a, b = (m.astype(np.float64) for m in load_run(run).model.transition())
    eigenvalues = np.linalg.eigvals(a)
    for k in summary["locked_harmonics"]:
        assert np.min(np.abs(eigenvalues - np.exp(2j * np.pi * k / 6))) < 1e-5
    np.testing.assert_allclose(a @ a.T + b @ b.T, np.eye(len(a)), atol=1e-5)
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["frame_shape"] == [16, 16, 1] and metrics["training_frames"] == 24
    loaded = load_run(run)
    # 16 pairs per epoch: windows of L frames hold L - 1 pairs each.
    window = loaded.config.training.window
    assert loaded.config.model.linear_path
    assert loaded.config.training.windows_per_epoch == -(-16 // (window - 1))
    assert loaded.config.model.period == 6
    assert loaded.data_source == str(blob_video)
    table = (output / "results.md").read_text()
    assert "| clip | frames as | frames | period | period from | pose-advance DVAE |" in table
    assert "| pose-advance LDS | pose-advance Fourier loop | pose-advance real clip |" in table
    assert f"| {row['pose_advance_fourier']:.3f} |" in table
    assert f"| blob | gray 16x16, whole frame | 24 | 6 | estimated | " \
           f"{row['pose_advance_dvae']:.3f} |" in capsys.readouterr().out
