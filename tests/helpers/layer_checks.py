"""Shared checks for every layer and model: config -> JSON -> from_config, `.keras` reload."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np


def assert_config_round_trip(obj: keras.layers.Layer) -> keras.layers.Layer:
    """Rebuilds `obj` from its config after a trip through JSON; returns the copy."""
    config = obj.get_config()
    restored_config = json.loads(json.dumps(config))
    clone = type(obj).from_config(restored_config)
    assert clone.get_config() == config
    return clone


def assert_keras_save_reload(model: keras.Model, inputs, tmp_path: Path, **call_kwargs) -> None:
    """Saves to `.keras`, reloads, and checks outputs and weights are identical."""
    path = Path(tmp_path) / "roundtrip.keras"
    expected = keras.ops.convert_to_numpy(model(inputs, **call_kwargs))
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is type(model)
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))
    actual = keras.ops.convert_to_numpy(reloaded(inputs, **call_kwargs))
    np.testing.assert_array_equal(actual, expected)
