"""The train command's model and training flags come from the configuration dataclasses."""

import dataclasses

import pytest

from dynamic_vae import config as config_module
from dynamic_vae.cli import build_parser, main
from dynamic_vae.cli.flags import ConfigFlag, boolean, config_flags, field_docs
from dynamic_vae.config import ModelConfig, TrainingConfig

# Every flag `dynamic-vae train` takes, spelled as users type them.
TRAIN_OPTIONS = {
    "--preset", "--output", "-o", "--frames", "--dataset", "--data-dir", "--split",
    "--grayscale", "--gray", "--rgb", "--size", "--crop", "--stride", "--max-frames",
    "--latent-dim", "--filter-size", "--base-channels", "--dense-units", "--sigma",
    "--pixel-likelihood",
    "--stationarity-weight",
    "--kl-weight", "--output-activation", "--num-samples", "--encoder-mode",
    "--prediction-weight", "--prediction-noise", "--prediction-shrink", "--posterior",
    "--mixed-precision", "--architecture", "--width", "--depth", "--linear-path",
    "--observation-noise", "--prediction-sigma", "--decoder-noise", "--transition-form",
    "--windows-per-epoch", "--driven-prior-weight", "--readback-weight", "--readback-loss",
    "--driven-mmd-weight", "--frame-mmd-weight",
    "--trainable", "--validation-fraction", "--residual-rank", "--period", "--start-states",
    "--period-from-cycle", "--period-from-frames", "--harmonic-start", "--learning-rate", "--batch-size", "--epochs",
    "--seed", "--cycle",
    "--num-frames", "--steps-per-execution", "--image-every", "--kl-warmup-epochs", "--window",
    "--jit-compile", "--finetune-epochs", "--variety-epochs", "--init-from", "--quiet", "--restart", "--strategy",
}


def train_parser():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return subparsers.choices["train"]


def train_actions():
    return {option: action for action in train_parser()._actions
            for option in action.option_strings}


def test_train_keeps_every_flag():
    assert set(train_actions()) - {"-h", "--help"} == TRAIN_OPTIONS


@pytest.mark.parametrize("config_class", [ModelConfig, TrainingConfig])
def test_every_field_a_flag_can_hold_is_a_flag(config_class):
    actions = train_actions()
    tuples = {"frame_shape", "pixel_range"}
    for field in dataclasses.fields(config_class):
        option = "--" + field.name.replace("_", "-")
        assert (option in actions) == (field.name not in tuples), field.name
        if field.name not in tuples:
            assert actions[option].dest == field.name and actions[option].default is None


def test_flag_types_follow_the_annotations():
    flags = {flag.name: flag for flag in config_flags(ModelConfig) + config_flags(TrainingConfig)}
    assert flags["latent_dim"].kind is int
    assert flags["base_channels"].kind is int  # int | None
    assert flags["sigma"].kind is float
    assert flags["cycle"].kind is str
    assert flags["prediction_noise"].kind is boolean and flags["jit_compile"].kind is boolean


def test_choices_are_the_config_modules_tuples():
    flags = {flag.name: flag for flag in config_flags(ModelConfig)}
    assert flags["encoder_mode"].choices == config_module.ENCODER_MODES
    assert flags["posterior"].choices == config_module.POSTERIORS
    assert flags["mixed_precision"].choices == config_module.MIXED_PRECISION
    assert flags["output_activation"].choices == config_module.OUTPUT_ACTIVATIONS
    assert flags["latent_dim"].choices is None


def test_help_is_the_docstring_entry():
    docs = field_docs(ModelConfig)
    assert docs["latent_dim"] == "n, the dimension of the latent state x_t."
    assert docs["prediction_noise"].startswith("roll that prediction out with the model's own "
                                               "innovations B v_k")  # joined continuation lines
    assert set(docs) == {field.name for field in dataclasses.fields(ModelConfig)}
    assert "Adam learning rate" in train_actions()["--learning-rate"].help


def test_help_lists_choices():
    text = train_parser().format_help()
    assert "--encoder-mode {frame,pair}" in text
    assert "--jit-compile {true,false}" in text


def test_a_value_outside_the_choices_names_flag_choices_and_value(tmp_path, capsys):
    assert main(["train", "--posterior", "exact", "--output", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert ("--posterior: posterior must be one of ('factorized', 'smoothed'), got 'exact'"
            in error)
    assert not (tmp_path / "run").exists()


def test_a_flag_check_without_choices_accepts_anything():
    ConfigFlag("latent_dim", int).check(7)
    with pytest.raises(ValueError, match=r"--mode: mode must be one of \('a',\), got 'b'"):
        ConfigFlag("mode", str, ("a",)).check("b")
