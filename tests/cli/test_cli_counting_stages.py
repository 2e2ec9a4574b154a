"""The counting preset's stages end to end through the command line: one run directory holds
every stage, finished stages are reused, and changed ones retrain (tiny model, few steps)."""

import json

import numpy as np
import pytest

from dynamic_vae.cli import main

pytestmark = pytest.mark.slow


def test_the_counting_preset_trains_then_fine_tunes_into_one_run(tmp_path, capsys):
    from dynamic_vae.config import RunConfig
    from dynamic_vae.runs import load_run

    run_dir = tmp_path / "two-stage"
    # Small networks: the test is about the stages, and it trains four runs.
    command = ["train", "--preset", "counting-mnist", "--num-frames", "48", "--epochs", "2",
               "--finetune-epochs", "1", "--variety-epochs", "0", "--latent-dim", "4",
               "--base-channels", "8", "--image-every", "0", "--quiet", "--output", str(run_dir)]
    assert main(command) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    warm_dir = run_dir / "warm_start"
    first_run, tuned_run = load_run(warm_dir), load_run(run_dir)
    first, first_config = first_run.model, first_run.config
    tuned, config = tuned_run.model, tuned_run.config
    # The first stage is the preset as flagged; the second changes what `finetune` names.
    assert first_config.model.posterior == "factorized"
    assert first_config.training.window == 5 and first_config.training.epochs == 2
    assert config.model.posterior == "smoothed"
    assert config.model.stationarity_weight == 10000.0
    assert config.training.window == 9 and config.training.epochs == 1
    assert config.model.latent_dim == 4 and config.training.num_frames == 48
    assert tuned_run.init_from == str(warm_dir) and tuned_run.first_stage == RunConfig(
        model=first_config.model, training=first_config.training, finetune={})
    assert len(json.loads((warm_dir / "history.json").read_text())["loss"]) == 2
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    stages = summary["stages"]
    assert [s["epochs"] for s in stages] == [2, 1]
    assert summary["wall_time_seconds"] == pytest.approx(
        stages[0]["wall_time_seconds"] + stages[1]["wall_time_seconds"])
    # Fine-tuning moved the weights on from the first stage's.
    assert not np.allclose(first.transition()[0], tuned.transition()[0])
    assert (run_dir / "test_pairs.npy").is_file() and not (run_dir / "backup").exists()
    # The same command again reuses the finished first stage and retrains the second.
    first_model = warm_dir / "model.keras"
    stamp = first_model.stat().st_mtime_ns
    assert main(command) == 0
    assert first_model.stat().st_mtime_ns == stamp
    again = load_run(run_dir).model
    np.testing.assert_allclose(again.transition()[0], tuned.transition()[0], atol=1e-6)
    for x, y in zip(again.decoder.get_weights(), tuned.decoder.get_weights()):
        np.testing.assert_allclose(x, y, atol=1e-4)
    # Another first-stage configuration trains the first stage anew.
    assert main(command[:-2] + ["--learning-rate", "0.002", "--output", str(run_dir)]) == 0
    assert first_model.stat().st_mtime_ns != stamp
    assert load_run(warm_dir).config.training.learning_rate == 0.002
    # So does the same configuration warm-started from another run.
    import shutil

    source = tmp_path / "source"
    shutil.copytree(warm_dir, source)
    stamp = first_model.stat().st_mtime_ns
    assert main(command[:-2] + ["--learning-rate", "0.002", "--init-from", str(source),
                                "--output", str(run_dir)]) == 0
    assert first_model.stat().st_mtime_ns != stamp
    assert load_run(warm_dir).init_from == str(source)


def test_the_counting_preset_ends_with_a_variety_stage_that_keeps_a_and_b(tmp_path,
                                                                          capsys):
    from dynamic_vae.runs import load_run

    run_dir = tmp_path / "three-stage"
    command = ["train", "--preset", "counting-mnist", "--num-frames", "48", "--epochs", "1",
               "--finetune-epochs", "1", "--variety-epochs", "2", "--latent-dim", "4",
               "--base-channels", "8", "--image-every", "0", "--quiet",
               "--output", str(run_dir)]
    assert main(command) == 0
    assert "then fine-tuned 1 epochs" in capsys.readouterr().out
    first_run = load_run(run_dir / "warm_start")
    tuned_run = load_run(run_dir / "finetune")
    variety_run = load_run(run_dir)
    assert tuned_run.init_from == str(run_dir / "warm_start")
    assert variety_run.init_from == str(run_dir / "finetune")
    assert first_run.config.model.posterior == "factorized"
    assert tuned_run.config.model.posterior == "smoothed"
    assert tuned_run.config.training.trainable == "all"
    config = variety_run.config
    # The variety stage is the fine-tuning stage with what `variety` names replaced.
    assert config.model.posterior == "smoothed" and config.training.window == 9
    assert config.training.trainable == "observation" and config.training.epochs == 2
    assert (config.model.kl_weight, config.model.prediction_weight,
            config.model.driven_prior_weight, config.model.driven_mmd_weight,
            config.model.readback_loss) == (1.0, 0.0, 50.0, 1000.0, "cross_entropy")
    assert variety_run.first_stage == first_run.config
    # It trains the encoder and decoder only: A and B stay the fine-tuned ones (up to the
    # closed-form finish each stage ends with, which locks the already locked planes again).
    tuned, varied = tuned_run.model, variety_run.model
    for before, after in zip(tuned.transition(), varied.transition()):
        np.testing.assert_allclose(after, before, atol=1e-4)
    assert not np.allclose(tuned.decoder.get_layer("conv0").kernel,
                           varied.decoder.get_layer("conv0").kernel)
    # It grows the decoder its hidden path, trained from a zero output.
    assert (tuned.model_config.dense_units, varied.model_config.dense_units) == (0, 512)
    assert np.any(varied.decoder.get_layer("hidden_out").kernel.numpy())
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2 and np.isfinite(history["driven_mismatch"]).all()
    assert np.isfinite(history["driven_mmd"]).all() and np.isfinite(history["readback"]).all()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [s["run"] for s in summary["stages"]] == [
        str(run_dir / "warm_start"), str(run_dir / "finetune"), str(run_dir)]
    assert [(s["stage"], s["epochs"]) for s in summary["stages"]] == [
        ("first", 1), ("finetune", 1), ("variety", 2)]
    # Run again, the same command reuses both finished earlier stages.
    stamps = [(run_dir / d / "model.keras").stat().st_mtime_ns
              for d in ("warm_start", "finetune")]
    assert main(command) == 0
    assert stamps == [(run_dir / d / "model.keras").stat().st_mtime_ns
                      for d in ("warm_start", "finetune")]
