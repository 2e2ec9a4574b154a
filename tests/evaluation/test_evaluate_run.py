"""evaluate_run, `dynamic-vae evaluate` and `dynamic-vae experiment` end to end on tiny runs
of real digits (few frames, one epoch, small latent)."""

import json

import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.config import get_preset
from dynamic_vae.evaluation import evaluate_run
from dynamic_vae.evaluation.digit_classifier import build_digit_classifier
from dynamic_vae.runs import load_run
from dynamic_vae.training import train

pytestmark = pytest.mark.slow

TINY = dict(num_frames=240, epochs=1, latent_dim=4, batch_size=32, image_every=0)
FAST = dict(seeds=2, horizon=40, prediction_windows=30)


@pytest.fixture(scope="module")
def judge():
    """An untrained CNN of the classifier's architecture: the wiring is under test here, not
    its judgement (tests/evaluation/test_digit_classifier.py tests the real one)."""
    import keras

    keras.utils.set_random_seed(0)
    return build_digit_classifier()


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, judge):
    """`dynamic-vae experiment counting` on one tiny cycle; its run serves the report tests."""
    import contextlib
    import io

    import dynamic_vae.evaluation.digit_classifier as digit_classifier

    from dynamic_vae.experiments import CountingExperiment

    output = tmp_path_factory.mktemp("experiment")
    printed = io.StringIO()
    seen = []
    counting_row = CountingExperiment.row

    def recording_row(self, condition, summary, metrics):
        seen.append(metrics["family"])
        return counting_row(self, condition, summary, metrics)

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(digit_classifier, "load_digit_classifier", lambda: (judge, 0.5))
        # A family's own metrics reach its row (the hook other families use).
        patch.setattr(CountingExperiment, "extra_metrics",
                      lambda self, condition, run_dir: {"run": run_dir.name})
        patch.setattr(CountingExperiment, "row", recording_row)
        code = main(["experiment", "counting", "--cycles", "123", "--epochs", "1",
                     "--finetune-epochs", "1", "--variety-epochs", "1", "--num-frames", "120",
                     "--seeds", "2", "--horizon", "40", "--quiet",
                     "--output", str(output)])
    assert code == 0
    assert seen == [{"run": "cycle-123"}]
    return output, printed.getvalue()


@pytest.fixture(scope="module")
def counting_run(experiment):
    return experiment[0] / "cycle-123"


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    """A non-counting run trained from a .npy file: moving bars, 16x16."""
    root = tmp_path_factory.mktemp("video")
    t = np.arange(120)[:, None, None]
    x = np.arange(16)[None, None, :]
    frames = (0.5 + 0.4 * np.sin(2 * np.pi * (x - t) / 8)).repeat(16, axis=1)[..., None]
    # Cycles that differ a little, as a real clip's do.
    frames = np.clip(frames + np.random.default_rng(0).normal(0, 0.02, frames.shape), 0, 1)
    path = root / "bars.npy"
    np.save(path, frames.astype(np.float32))
    run_dir = root / "run"
    # The bars repeat every 8 frames: a periodic video run.
    config = get_preset("counting-mnist").override(frame_shape=(16, 16, 1), period=8,
                                                     variety_epochs=1, **TINY)
    train(config, run_dir, frames=frames.astype(np.float32), frames_source=str(path),
          verbose=0)
    return run_dir


def test_counting_run_report(counting_run, judge):
    metrics = evaluate_run(counting_run, classifier=judge, classifier_accuracy=0.5, **FAST)
    out = counting_run / "evaluation"
    for name in ("report.md", "metrics.json", "spectrum.png", "stability.png", "strips.png",
                 "baseline.npz"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["kind"] == "counting" and metrics["seeds"] == [0, 1]
    assert "temporal" not in metrics  # the digit order measures a counting run's rhythm
    digits = metrics["digits"]
    # The run keeps its test pair, so the paper's start is measured beside the stored starts.
    for name in ("dynamic_vae", "dynamic_vae_test_pair", "linear_baseline", "ground_truth"):
        assert len(digits[name]["per_sequence_transition_accuracy"]) == (
            1 if name == "ground_truth" else 2)
        assert 0 <= digits[name]["transition_accuracy"] <= 1
    assert "x_0 from the held-out test pair" in (out / "report.md").read_text()
    # Variety in the classifier's features: the pinned keys, for every synthesised sequence.
    diversity = metrics["diversity"]
    assert "fresh counting sequence (cycle 123" in diversity["real"]
    for name in ("dynamic_vae", "dynamic_vae_test_pair", "linear_baseline"):
        entry = diversity[name]
        assert {"diversity_ratio", "frechet_distance", "frechet_distance_real"} <= set(entry)
        assert sorted(entry["classes_scored"] + entry["classes_missing"]) == [1, 2, 3]
        for key in ("diversity_ratio", "frechet_distance", "frechet_distance_real"):
            assert (entry[key] is None) == (not entry["classes_scored"])
            assert entry[key] is None or entry[key] >= 0
    assert "## Variety" in (out / "report.md").read_text()
    assert "cycle_distance" not in metrics
    assert set(metrics["prediction"]["dynamic_vae"]) == {"1", "5", "10"}
    assert metrics["prediction"]["windows"] == 30
    assert [h["k"] for h in metrics["cycle_spectrum"]["dynamic_vae"]["harmonics"]] == [1]
    assert metrics["stability"]["dynamic_vae"]["reconstruction_std_ratio"] > 0
    report = (out / "report.md").read_text()
    dvae = metrics["digits"]["dynamic_vae"]
    assert f"{dvae['transition_accuracy']:.3f} +- {dvae['transition_accuracy_std']:.3f}" in report
    assert f"{metrics['prediction']['linear_baseline']['10']['mse']:.4f}" in report
    assert "![strips](strips.png)" in report
    assert metrics["baseline"].startswith("loaded from")  # the experiment's evaluation saved it
    again = evaluate_run(counting_run, classifier=judge, classifier_accuracy=0.5, **FAST)
    assert again["baseline"].startswith("loaded from")
    assert again["prediction"]["linear_baseline"] == metrics["prediction"]["linear_baseline"]
    assert again["digits"]["dynamic_vae"] == metrics["digits"]["dynamic_vae"]
    assert not [p for p in counting_run.iterdir() if p.name.startswith(".")]
    assert (out.stat().st_mode & 0o755) == 0o755  # readable like the rest of the run


def test_bad_baseline_leaves_the_previous_evaluation(counting_run, judge):
    before = (counting_run / "evaluation" / "metrics.json").read_bytes() if (
        counting_run / "evaluation").exists() else None
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        evaluate_run(counting_run, baseline=counting_run / "missing.npz", classifier=judge,
                     **FAST)
    after = (counting_run / "evaluation" / "metrics.json").read_bytes() if (
        counting_run / "evaluation").exists() else None
    assert before == after
    with pytest.raises(ValueError, match="horizon"):
        evaluate_run(counting_run, horizon=3)


def test_video_run_from_the_cli(video_run, capsys):
    code = main(["evaluate", str(video_run), "--seeds", "2", "--horizon", "40",
                 "--prediction-windows", "20", "--baseline", "none"])
    assert code == 0
    printed = capsys.readouterr().out
    metrics = json.loads((video_run / "evaluation" / "metrics.json").read_text())
    assert metrics["kind"] == "video" and "digits" not in metrics
    assert list(metrics["stability"]) == ["dynamic_vae"]
    assert "seen in training" in metrics["prediction"]["heldout"]
    # A video run gets the temporal statistics of its seed-0 synthesis; without a residual
    # texture or a baseline, no baseline residual forecast.
    assert list(metrics["temporal"]) == ["dynamic_vae"]
    statistics = metrics["temporal"]["dynamic_vae"]
    assert statistics["frames"] == 40 and statistics["lags"] == 10
    assert statistics["motion_ratio"] >= 0 and len(statistics["autocorrelation"]) == 10
    assert "linear_baseline_residual" not in metrics["prediction"]
    report = (video_run / "evaluation" / "report.md").read_text()
    assert (f"| Dynamic VAE | {statistics['motion_ratio']:.3f} | "
            f"{statistics['autocorrelation_distance']:.3f} |") in report
    assert f"k=1: {metrics['prediction']['dynamic_vae']['1']['mse']:.4f}" in printed
    assert not (video_run / "evaluation" / "baseline.npz").exists()
    # A periodic video run: its synthesised cycles against the clip's own, whose frames one
    # period apart differ by the noise alone (std 0.02, so RMS 0.02 sqrt(2)).
    cycle = metrics["cycle_distance"]["dynamic_vae"]
    assert cycle["period"] == 8 and len(cycle["cycle_rms_per_sequence"]) == 2
    assert cycle["cycle_rms_real"] == pytest.approx(0.02 * np.sqrt(2), rel=0.1)
    assert cycle["cycle_distance_ratio"] == pytest.approx(cycle["cycle_rms"]
                                                          / cycle["cycle_rms_real"])
    assert f"cycle distance ratio {cycle['cycle_distance_ratio']:.2f}" in printed
    assert "diversity" not in metrics
    report = (video_run / "evaluation" / "report.md").read_text()
    assert f"| Dynamic VAE | {cycle['cycle_rms']:.4f} |" in report
    # Its pose advance, read against the clip's first period: the real clip, every step one
    # phase on, scores 1; the Fourier loop over the same period replays the cycle.
    pose = metrics["pose_advance"]
    assert pose["period"] == 8 and pose["real"] == pytest.approx(1.0)
    assert set(pose) >= {"dynamic_vae", "dynamic_vae_test_pair", "fourier_loop"}
    for name in ("dynamic_vae", "dynamic_vae_test_pair", "fourier_loop"):
        assert len(pose[name]["per_seed"]) == 2
        assert pose[name]["min"] <= pose[name]["mean"] <= 1.0
    assert pose["fourier_loop"]["mean"] == pytest.approx(1.0)
    assert f"pose advance {pose['dynamic_vae']['mean']:.3f}" in printed
    assert (f"| Fourier loop over the same period | {pose['fourier_loop']['mean']:.3f} |"
            in report)


def test_evaluate_errors_name_the_problem(tmp_path, video_run, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "model.keras is missing" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 8, 8, 1), np.float32))
    assert main(["evaluate", str(video_run), "--frames", str(wrong), "--baseline", "none"]) == 2
    assert "(8, 8, 1)" in capsys.readouterr().err


def test_experiment_counting_tiny(experiment, tmp_path):
    output, printed = experiment
    results = json.loads((output / "results.json").read_text())
    assert results["family"] == "counting" and results["seeds"] == 2
    (row,) = results["rows"]
    assert row["cycle"] == "123"
    run = load_run(output / "cycle-123")
    config = run.config
    # The preset's three stages, one epoch each: config.json is the variety stage's.
    assert run.first_stage.training.epochs == 1
    assert config.training.epochs == 1 and config.training.num_frames == 120
    assert config.model.posterior == "smoothed"
    assert config.training.trainable == "observation"
    assert config.model.driven_prior_weight == 50.0
    assert run.init_from == str(output / "cycle-123" / "finetune")
    assert config.training.cycle == "123"
    for key in ("transition_accuracy_dvae", "transition_accuracy_dvae_test_pair",
                "transition_accuracy_lds", "legibility_dvae"):
        assert 0 <= row[key] <= 1
    summary = json.loads((output / "cycle-123" / "summary.json").read_text())
    assert row["stationarity_residual"] == summary["spectrum"]["stationarity_residual"]
    assert 0 < row["train_seconds"] <= row["wall_seconds"]
    table = (output / "results.md").read_text()
    assert ("| cycle | transition accuracy DVAE | transition accuracy DVAE, x_0 from the test "
            "pair | transition accuracy LDS |") in table
    assert f"| 123 | {row['transition_accuracy_dvae']:.3f} |" in table
    assert f"| 123 | {row['transition_accuracy_dvae']:.3f} |" in printed
    assert (output / "cycle-123" / "evaluation" / "report.md").is_file()
    assert main(["experiment", "counting", "--cycles", "12,1x", "--output",
                 str(tmp_path / "bad")]) == 2
    assert main(["experiment", "counting", "--cycles", "12", "--horizon", "2", "--output",
                 str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()


def test_format_table_and_families():
    from dynamic_vae.experiments import FAMILIES, format_table

    table = format_table([{"cycle": "12", "acc": 0.91234}, {"cycle": "345", "acc": None}],
                         (("cycle", "cycle", ""), ("acc", "accuracy", ".3f")))
    assert table.splitlines() == ["| cycle | accuracy |", "|---|---|", "| 12 | 0.912 |",
                                  "| 345 | - |"]
    assert "counting" in FAMILIES


def test_a_counting_run_gets_its_cycle_as_period_and_stored_starts(counting_run):
    """The counting preset's period comes from the cycle (3 digits: 3 frames), and synthesis
    without a pair starts on encoded training frames."""
    config = json.loads((counting_run / "config.json").read_text())
    assert config["model"]["period"] == 3
    summary = json.loads((counting_run / "summary.json").read_text())
    assert summary["start_states"] == 64
    assert isinstance(summary["locked_harmonics"], list)
    assert set(summary["locked_harmonics"]) <= {1}


@pytest.mark.slow
def test_a_ten_cycle_trains_with_the_same_command(tmp_path):
    """`train --preset counting-mnist --cycle C` for the longest cycle, at a reduced size (the
    3-cycle of the experiment above is the short one): its period is 10."""
    run_dir = tmp_path / "cycle-10"
    code = main(["train", "--preset", "counting-mnist", "--cycle", "0123456789",
                 "--num-frames", "120", "--epochs", "1", "--finetune-epochs", "0",
                 "--variety-epochs", "1", "--latent-dim", "4", "--batch-size", "32", "--image-every", "0", "--quiet",
                 "--output", str(run_dir)])
    assert code == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["period"] == 10
    summary = json.loads((run_dir / "summary.json").read_text())
    assert isinstance(summary["locked_harmonics"], list)
    assert summary["start_states"] == 64
