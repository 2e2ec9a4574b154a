"""`dynamic-vae experiment textures` and `dynamic-vae experiment rotation` end to end on tiny
settings of the real shared data (short clips, small frames, one epoch, short horizons)."""

import json

import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.experiments import FAMILIES
from dynamic_vae.experiments.rotation_experiment import turning_sequence
from dynamic_vae.experiments.runner import format_table
from dynamic_vae.experiments.textures_experiment import TexturesExperiment
from dynamic_vae.runs import load_run

FAST = ["--epochs", "1", "--finetune-epochs", "1", "--seeds", "2", "--horizon", "40", "--quiet"]


def test_families_registered():
    assert {"counting", "textures", "rotation", "periodic"} <= set(FAMILIES)
    for family in FAMILIES.values():
        keys = [key for key, _, _ in family.columns]
        assert len(keys) == len(set(keys)), family.name


def test_a_familys_flags_parse_as_the_experiment_command_reads_them(tmp_path):
    args = FAMILIES["textures"].parse_flags(["--data-dir", str(tmp_path), "--clips", "a.avi"])
    assert (args.data_dir, args.clips) == (tmp_path, "a.avi")
    assert (args.preset, args.epochs) == (FAMILIES["textures"].default_preset, None)
    with pytest.raises(SystemExit):
        FAMILIES["textures"].parse_flags(["--no-such-flag"])


def test_turning_sequence_ends_with_the_wrap_around_pair():
    views = np.arange(6)[:, None, None, None].astype(np.uint8) * 40  # view i has value 40 i
    sequence = turning_sequence(views, turns=3)
    values = list(sequence[:, 0, 0, 0] // 40)
    assert values == [0, 1, 2, 3, 4, 5] * 3 + [0]
    # train() holds out the last pair of all: the wrap-around V-1 -> 0.
    assert values[-2:] == [5, 0]
    with pytest.raises(ValueError, match="--turns"):
        turning_sequence(views, turns=0)


@pytest.mark.slow
def test_experiment_textures_tiny(tmp_path, shared_data, capsys):
    output = tmp_path / "textures"
    code = main(["experiment", "textures", "--data-dir", str(shared_data),
                 "--clips", "traffic48/traffic_a.npy", "--size", "16", "--max-frames", "24",
                 "--windows-per-epoch", "8", "--output", str(output), *FAST])
    assert code == 0, capsys.readouterr().err
    results = json.loads((output / "results.json").read_text())
    assert results["family"] == "textures" and results["horizon"] == 40
    (row,) = results["rows"]
    assert row["clip"] == "traffic_a (gray 16x16)" and row["frames"] == 24
    # The last 12 frames (a fifth, raised to what a 10-step prediction needs) are held out.
    assert row["test_frames"] == 12
    pinned = [f"k{k}_{name}" for k in (1, 5, 10)
              for name in ("dvae", "lds", "lds_residual", "persistence", "dvae_decoder")]
    for key in pinned:
        assert 0 <= row[key] <= 1, key
    temporal = [f"{name}_{suffix}" for name in ("motion_ratio", "autocorrelation_distance")
                for suffix in ("dvae", "lds")]
    assert set(pinned + temporal) <= set(row)
    assert {key for key, _, _ in TexturesExperiment.columns} <= set(row)
    for suffix in ("dvae", "lds"):
        assert row[f"std_ratio_{suffix}"] > 0
        assert row[f"alive_{suffix}"] == ("yes" if abs(row[f"std_ratio_{suffix}"] - 1) <= 0.2
                                          else "no")
        assert row[f"novelty_{suffix}"] > 0 and 0 <= row[f"near_copies_{suffix}"] <= 1
    run = output / "traffic_a-gray16"
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert row["k5_dvae"] == metrics["prediction"]["dynamic_vae"]["5"]["mse"]
    # The video preset fits a residual texture, so the decoder's own predictions come too,
    # and differ from those with the texture's forecast.
    assert row["k1_dvae_decoder"] == metrics["prediction"]["dynamic_vae_decoder"]["1"]["mse"]
    assert row["k1_dvae_decoder"] != row["k1_dvae"]
    # Repeating the last context frame, on the very windows and targets the models are
    # scored on.
    for k in ("1", "5", "10"):
        assert row[f"k{k}_persistence"] == metrics["prediction"]["dynamic_vae"][k][
            "persistence_mse"] == metrics["prediction"]["linear_baseline"][k]["persistence_mse"]
        # The baseline with the same residual forecast, from a texture of the same rank.
        assert row[f"k{k}_lds_residual"] == metrics["prediction"]["linear_baseline_residual"][
            k]["mse"]
    assert metrics["baseline_residual_texture"]["rank"] >= 1
    # Temporal statistics of the seed-0 synthesis (all 40 frames of this horizon).
    for key, suffix in (("dynamic_vae", "dvae"), ("linear_baseline", "lds")):
        statistics = metrics["temporal"][key]
        assert statistics["frames"] == 40 and statistics["lags"] == 10
        assert row[f"motion_ratio_{suffix}"] == statistics["motion_ratio"] > 0
        assert row[f"autocorrelation_distance_{suffix}"] == statistics[
            "autocorrelation_distance"]
        assert 0 <= statistics["autocorrelation_distance"] <= 2
    report = (run / "evaluation" / "report.md").read_text()
    assert (f"| Dynamic VAE, decoder alone (no texture forecast) | "
            f"{row['k1_dvae_decoder']:.4f}") in report
    assert (f"| linear baseline + residual texture forecast | {row['k1_lds_residual']:.4f}"
            in report)
    assert "## Temporal statistics" in report
    assert f"| Dynamic VAE | {row['motion_ratio_dvae']:.3f} |" in report
    assert metrics["frame_shape"] == [16, 16, 1] and metrics["training_frames"] == 12
    assert metrics["prediction"]["heldout"] == "given"
    loaded = load_run(run)
    # The video preset: residual networks with the linear path, calibrated decoder.
    assert loaded.config.model.architecture == "residual" and loaded.config.model.linear_path
    assert loaded.config.model.observation_noise == "optimal"
    # --windows-per-epoch sets both stages.
    assert loaded.config.training.windows_per_epoch == 8
    assert loaded.first_stage.training.windows_per_epoch == 8
    for suffix in ("dvae", "lds"):
        assert row[f"sharpness_{suffix}"] > 0 and row[f"spectrum_distance_{suffix}"] >= 0
        assert row[f"martin_{suffix}"] >= 0
    assert row["reconstruction_dvae"] >= 0 and row["reconstruction_pca"] >= 0
    assert loaded.data_source.endswith("traffic_a.npy")
    assert (run / "evaluation" / "strips.png").stat().st_size > 0
    table = (output / "results.md").read_text()
    assert table == ("# Experiment: textures\n\n2 seeds x 40 synthesised frames per model.\n\n"
                     + format_table(results["rows"], TexturesExperiment.columns
                                    + (("train_seconds", "training wall time (s)", ".0f"),
                                       ("wall_seconds", "total wall time (s)", ".0f"))))
    assert f"| {row['k1_dvae']:.4f} | {row['k1_lds']:.4f} |" in capsys.readouterr().out


def test_experiment_textures_bad_input(tmp_path, shared_data, capsys):
    output = tmp_path / "bad"
    assert main(["experiment", "textures", "--data-dir", str(shared_data), "--clips",
                 "dyntex/nothing.avi", "--output", str(output)]) == 2
    assert "dyntex/nothing.avi does not exist" in capsys.readouterr().err
    assert main(["experiment", "textures", "--data-dir", str(shared_data), "--size", "20",
                 "--output", str(output)]) == 2
    assert "multiple of 8, got 20" in capsys.readouterr().err
    assert main(["experiment", "textures", "--data-dir", str(shared_data), "--test-fraction",
                 "1.5", "--output", str(output)]) == 2
    assert "--test-fraction: expected a number in [0, 1), got 1.5" in capsys.readouterr().err
    assert main(["experiment", "textures", "--data-dir", str(shared_data), "--clips",
                 "traffic48/traffic_a.npy", "--max-frames", "20", "--output", str(output)]) == 2
    assert "20 frames are too few to hold out 12" in capsys.readouterr().err
    assert main(["experiment", "textures", "--data-dir", str(shared_data), "--clips",
                 "traffic48/traffic_a.npy", "--windows-per-epoch", "0", "--output",
                 str(output)]) == 2
    assert "windows_per_epoch must be >= 1 (or None: one pass), got 0" in (
        capsys.readouterr().err)
    assert not output.exists()


@pytest.fixture
def coil_subset(tmp_path, shared_data):
    """Two real COIL-20 objects, every 3rd view (24 views a turn, 15 degrees apart)."""
    with np.load(shared_data / "coil20" / "coil20_objects01-14.npz") as data:
        frames, ids = data["frames"][:2, ::3], data["object_ids"][:2]
    path = tmp_path / "coil2.npz"
    np.savez(path, frames=frames, object_ids=ids)
    return path, frames, ids


@pytest.mark.slow
def test_experiment_rotation_tiny(tmp_path, coil_subset, capsys):
    path, frames, ids = coil_subset
    output = tmp_path / "rotation"
    code = main(["experiment", "rotation", "--coil", str(path), "--objects", str(ids[1]),
                 "--steps", "2", "--turns", "3", "--windows-per-epoch", "8",
                 "--output", str(output), *FAST])
    assert code == 0, capsys.readouterr().err
    rows = json.loads((output / "results.json").read_text())["rows"]
    assert [(r["object"], r["step_degrees"], r["views"]) for r in rows] == \
        [(int(ids[1]), 10, 12)]
    for row in rows:
        for key in ("pose_advance_dvae", "pose_advance_dvae_min", "pose_advance_lds",
                    "pose_advance_fourier", "pose_advance_fourier_min"):
            assert 0 <= row[key] <= 1, key
        assert len(row["pose_advance_fourier_per_seed"]) == 2
        assert row["pose_advance_dvae_min"] <= row["pose_advance_dvae"]
        run = output / f"object{row['object']:02d}-step2"
        metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
        # Predictions run round the loop across the held-out wrap-around pair.
        assert metrics["prediction"]["heldout"] == "given"
        summary = json.loads((run / "summary.json").read_text())
        # One turn of 12 views is the period whose harmonics are locked, and synthesis
        # starts on stored encoded views.
        config = json.loads((run / "config.json").read_text())
        assert config["model"]["period"] == 12 and config["model"]["start_states"] == 64
        assert summary["start_states"] >= 1
        # By default, the first stage starts at the Fourier series of the turn.
        warm = json.loads((run / "warm_start" / "config.json").read_text())
        assert warm["training"]["harmonic_start"] is True
        # The fine-tuning stage trains windows of 8 frames.
        assert config["training"]["window"] == 8
        assert (run / "evaluation" / "strips.png").stat().st_size > 0
        # The metric itself: the true turn advances by the step every frame.
        assert row["pose_advance_ground_truth"] == 1.0
        assert len(row["pose_advance_dvae_per_seed"]) == 2
        assert row["pose_advance_dvae"] == pytest.approx(
            np.mean(row["pose_advance_dvae_per_seed"]))
    table = (output / "results.md").read_text()
    assert "| object | step (deg) | views per turn | pose-advance DVAE |" in table
    assert "| pose-advance LDS | pose-advance Fourier loop | k=1 MSE DVAE |" in table


def test_experiment_rotation_bad_input(tmp_path, coil_subset, capsys):
    path, _, ids = coil_subset
    output = tmp_path / "bad"
    assert main(["experiment", "rotation", "--coil", str(path), "--objects", "99",
                 "--output", str(output)]) == 2
    assert "--objects: [99] not in" in capsys.readouterr().err
    assert main(["experiment", "rotation", "--coil", str(path), "--steps", "5",
                 "--output", str(output)]) == 2
    assert "--steps: 5 must divide the 24 views" in capsys.readouterr().err
    assert main(["experiment", "rotation", "--coil", str(tmp_path / "none.npz"),
                 "--output", str(output)]) == 2
    assert "none.npz: no such file" in capsys.readouterr().err
    assert main(["experiment", "rotation", "--coil", str(path), "--turns", "0",
                 "--output", str(output)]) == 2
    assert "--turns: expected >= 1 turns, got 0" in capsys.readouterr().err
    assert main(["experiment", "rotation", "--coil", str(path), "--pairs-per-epoch", "0",
                 "--output", str(output)]) == 2
    assert "--pairs-per-epoch: expected >= 1, got 0" in capsys.readouterr().err
    assert not output.exists()


def test_experiments_without_a_data_folder_name_the_flag_and_the_variable(
        tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DYNAMIC_VAE_DATA", raising=False)
    output = tmp_path / "none"
    assert main(["experiment", "textures", "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert "--data-dir: no data folder given" in error and "DYNAMIC_VAE_DATA" in error
    assert main(["experiment", "rotation", "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert "--data-dir: no data folder given" in error and "DYNAMIC_VAE_DATA" in error
    assert not output.exists()


def test_experiments_read_their_default_data_from_dynamic_vae_data(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DYNAMIC_VAE_DATA", str(tmp_path / "data"))
    assert main(["experiment", "textures", "--output", str(tmp_path / "t")]) == 2
    assert f"{tmp_path / 'data' / 'dyntex'}" in capsys.readouterr().err
    assert main(["experiment", "rotation", "--output", str(tmp_path / "r")]) == 2
    assert f"{tmp_path / 'data' / 'coil20'}" in capsys.readouterr().err


def test_experiment_rotation_reads_a_relative_coil_from_data_dir(
        tmp_path, coil_subset, capsys, monkeypatch):
    monkeypatch.setenv("DYNAMIC_VAE_DATA", str(tmp_path / "elsewhere"))
    path, _, ids = coil_subset
    # --data-dir wins over the variable; an unknown object fails after the file is read,
    # so the error proves which file was opened.
    assert main(["experiment", "rotation", "--data-dir", str(path.parent), "--coil",
                 path.name, "--objects", "99", "--output", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert f"--objects: [99] not in {path}" in error
    assert main(["experiment", "rotation", "--data-dir", str(tmp_path / "empty"),
                 "--output", str(tmp_path / "r")]) == 2
    assert f"{tmp_path / 'empty' / 'coil20'}" in capsys.readouterr().err
