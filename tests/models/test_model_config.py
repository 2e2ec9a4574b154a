"""`ModelConfig` is the single declaration of a DynamicVAE's parameters."""

import dataclasses
import json

import numpy as np
import pytest

from dynamic_vae.config import ModelConfig, RunConfig
from dynamic_vae.models.dynamic_vae import DynamicVAE
from tests.helpers.layer_checks import LayerChecks

CONFIG = ModelConfig(frame_shape=(16, 16, 1), latent_dim=3, filter_size=3, base_channels=8,
                     sigma=0.5, pixel_range=(-1.0, 1.0), output_activation="tanh",
                     encoder_mode="frame", posterior="smoothed", prediction_weight=0.5,
                     prediction_shrink=0.25)


def test_model_reads_every_parameter_from_its_config():
    model = DynamicVAE(CONFIG, seed=3)
    assert model.model_config == CONFIG
    assert (model.frame_shape, model.latent_dim, model.pixel_range) == (
        (16, 16, 1), 3, (-1.0, 1.0))
    assert model.seed == 3


def test_keywords_and_config_build_the_same_model():
    by_keywords = DynamicVAE(seed=0, **dataclasses.asdict(CONFIG))
    assert by_keywords.model_config == CONFIG
    assert DynamicVAE.from_model_config(CONFIG, seed=0).model_config == CONFIG
    # Defaults live in ModelConfig alone.
    assert DynamicVAE().model_config == ModelConfig()


def test_validation_is_model_configs():
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        DynamicVAE(latent_dim=0)
    with pytest.raises(ValueError, match="not both"):
        DynamicVAE(CONFIG, latent_dim=4)


def test_keras_config_round_trips_through_json_and_a_keras_file(tmp_path):
    model = DynamicVAE(CONFIG, seed=7)
    checks = LayerChecks()
    rebuilt = checks.run_config_round_trip(model)
    assert rebuilt.model_config == CONFIG and rebuilt.seed == 7
    # The Keras config holds the ModelConfig's fields as config.json's model section does.
    keras_config = json.loads(json.dumps(model.get_config()))
    section = RunConfig(model=CONFIG).to_dict()["model"]
    assert {k: keras_config[k] for k in section} == json.loads(json.dumps(section))
    pairs = np.random.default_rng(0).uniform(-1, 1, (2, 2, 16, 16, 1)).astype(np.float32)
    loaded = checks.run_keras_save_reload(model, pairs, tmp_path, training=False)
    assert loaded.model_config == CONFIG
    latents = np.zeros((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.decode(latents).numpy(), model.decode(latents).numpy())
