"""The later stages of a RunConfig (fine-tuning, variety): what each stage gets, round trips
and bad input."""

import json

import pytest

from dynamic_vae.config import RunConfig, get_preset


def test_the_counting_preset_has_a_smoothed_fine_tuning_stage():
    config = get_preset("counting-mnist")
    first, second = config.first_stage(), config.finetune_stage()
    assert first.finetune == {} and second.finetune == {}
    assert (first.model.posterior, first.training.window) == ("factorized", 5)
    assert (second.model.posterior, second.training.window) == ("smoothed", 9)
    assert second.model.stationarity_weight == 10000.0
    assert second.model.prediction_shrink == 0.95
    assert (first.training.epochs, second.training.epochs) == (8, 4)
    # Everything the stage does not name is the first stage's.
    assert second.model.kl_weight == first.model.kl_weight == 2.0
    assert second.training.batch_size == first.training.batch_size


def test_flags_set_every_stage_and_epochs_each_its_own():
    config = get_preset("counting-mnist").override(window=3, sigma=0.7, epochs=2,
                                                   finetune_epochs=1)
    first, second = config.first_stage(), config.finetune_stage()
    assert first.training.window == second.training.window == 3
    assert first.model.sigma == second.model.sigma == 0.7
    assert (first.training.epochs, second.training.epochs) == (2, 1)
    assert second.model.posterior == "smoothed"
    assert get_preset("counting-mnist").override(finetune_epochs=0).finetune == {}
    assert get_preset("paper-v1").finetune == {}


def test_a_two_stage_config_round_trips_through_json():
    config = get_preset("counting-mnist").override(cycle="6789")
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert again.finetune_stage() == config.finetune_stage()


def test_a_later_stage_may_grow_the_decoder_a_hidden_layer():
    config = get_preset("paper-v1").to_dict()
    config["finetune"] = {"dense_units": 64, "epochs": 1}
    stages = RunConfig.from_dict(config).stages()
    assert [stage.model.dense_units for stage in stages] == [0, 64]
    # Shrinking or resizing it is refused before any stage trains.
    config["variety"] = {"dense_units": 32, "epochs": 1}
    with pytest.raises(ValueError, match="variety: dense_units can only grow from 0 in a later "
                                         "stage, got 64 before it and 32 in it"):
        RunConfig.from_dict(config)


@pytest.mark.parametrize("section,overrides,message", [
    ("finetune", {"latent_dim": 3}, "finetune: ['latent_dim'] cannot change in a later stage"),
    ("finetune", {"encoder_mode": "pair"}, "finetune: ['encoder_mode'] cannot change"),
    ("finetune", {"pixel_range": [-1, 1]}, "finetune: ['pixel_range'] cannot change"),
    ("finetune", {"nope": 1}, "finetune: unknown config field 'nope'"),
    ("finetune", {"window": 1}, "finetune: window must be >= 2 frames, got 1"),
    ("finetune", {"sigma": "x"}, "finetune: sigma: expected a number, got str 'x'"),
    ("finetune", [1, 2], "config section 'finetune': expected a mapping of fields, got list"),
    ("variety", {"latent_dim": 3}, "variety: ['latent_dim'] cannot change in a later stage"),
    ("variety", {"nope": 1}, "variety: unknown config field 'nope'"),
    ("variety", {"dense_units": -4}, "variety: dense_units must be an integer >= 0, got -4"),
    ("variety", {"driven_prior_weight": -1.0}, "variety: driven_prior_weight"),
    ("variety", "x", "config section 'variety': expected a mapping of fields, got str"),
])
def test_bad_later_stages_are_named(section, overrides, message):
    data = {**get_preset("counting-mnist").to_dict(), section: overrides}
    with pytest.raises(ValueError) as error:
        RunConfig.from_dict(data)
    assert message in str(error.value)


@pytest.mark.parametrize("preset,field,value,message", [
    ("paper-v1", "finetune_epochs", 3,
     "finetune_epochs: this configuration has no fine-tuning stage"),
    ("counting-mnist", "finetune_epochs", -1, "finetune_epochs must be an int >= 0, got -1"),
    ("counting-mnist", "finetune_epochs", 1.5, "finetune_epochs must be an int >= 0, got 1.5"),
    ("video", "variety_epochs", 3, "variety_epochs: this configuration has no variety stage"),
    ("counting-mnist", "variety_epochs", -2, "variety_epochs must be an int >= 0, got -2"),
])
def test_bad_stage_lengths(preset, field, value, message):
    with pytest.raises(ValueError) as error:
        get_preset(preset).override(**{field: value})
    assert message in str(error.value)


def test_the_counting_preset_ends_with_a_variety_stage_on_the_fine_tuning_stage():
    config = get_preset("counting-mnist")
    assert config.stage_names() == ["first", "finetune", "variety"]
    first, second, third = config.stages()
    variety = dict(trainable="observation", prediction_weight=0.0, kl_weight=1.0, sigma=0.15,
                   driven_prior_weight=50.0, driven_mmd_weight=1000.0, frame_mmd_weight=2000.0,
                   readback_weight=200.0, readback_loss="cross_entropy", dense_units=512,
                   epochs=4)
    assert third == second.override(**variety)
    assert (third.model.posterior, third.training.window) == ("smoothed", 9)
    assert third.finetune == {} and third.variety == {}
    # Without a fine-tuning stage, the variety stage is the first stage with its fields.
    first_only = config.override(finetune_epochs=0)
    assert first_only.stages()[-1] == first.override(**variety)
    assert [len(c.stages()) for c in (config.override(variety_epochs=0), first_only,
                                      get_preset("video"), get_preset("paper-v1"))] == [
        2, 2, 2, 1]


def test_flags_reach_the_variety_stage_unless_it_is_the_epochs():
    config = get_preset("counting-mnist").override(kl_weight=3.0, sigma=0.7, epochs=2,
                                                   variety_epochs=1)
    first, second, third = config.stages()
    assert first.model.kl_weight == second.model.kl_weight == third.model.kl_weight == 3.0
    assert third.model.sigma == 0.7
    assert (first.training.epochs, second.training.epochs, third.training.epochs) == (2, 4, 1)
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config and again.stages() == config.stages()
