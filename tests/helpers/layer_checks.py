"""The checks every layer and model of the package goes through, in one place.

In the spirit of keras-hub's `TestCase.run_layer_test` / `run_model_saving_test`:

- config -> JSON -> `from_config` rebuilds an object with the same config;
- a `.keras` save and reload (with `safe_mode=True`, as the package loads) restores identical
  weights and identical outputs; a layer that is not a model is saved inside a one-layer
  functional model, since only a model has a `.keras` file of its own;
- a model that can be exported (a `DynamicVAE`) keeps its maths through the SavedModel that
  TF Serving loads: the `decode` and `metadata` signatures, run by the graph-mode loader, agree
  with the model in memory.

Example:
>>> checks = LayerChecks()
>>> checks.run_all(DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8),
...                pairs, tmp_path, training=False)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import keras
import numpy as np

# Only `decode` and `metadata` are checked, so the export's longest sequence can be short
# (its warm-up requests stay small).
EXPORT_MAX_FRAMES = 8
EXPORT_LATENTS = 5
# The export rounds decoded frames to uint8: half a grey level, and float slack.
UINT8_TOLERANCE = 0.5 + 1e-3


class LayerChecks:
    """Config, `.keras` and export checks for any layer or model of the package.

    Each method asserts and returns what it rebuilt, so a test can add checks of its own.
    """

    def run_config_round_trip(self, obj: keras.layers.Layer) -> keras.layers.Layer:
        """Rebuilds `obj` from its config after a trip through JSON; returns the copy.

        Args:
            obj: a layer or model.

        Returns:
            The rebuilt object, whose `get_config()` equals the original's.
        """
        config = obj.get_config()
        # Rebuilt from the config as it is, the copy's config is the same, tuples and all.
        assert type(obj).from_config(copy.deepcopy(config)).get_config() == config
        clone = type(obj).from_config(json.loads(json.dumps(config)))
        if "input_layers" in config:
            # A functional model rebuilt from JSON keeps JSON's lists as its layers' build
            # shapes where the original has tuples: JSON, as a `.keras` file stores the
            # config, cannot tell the two apart, so the configs are compared as JSON.
            assert _as_json(clone.get_config()) == _as_json(config)
        else:
            assert clone.get_config() == config
        return clone

    def run_keras_save_reload(self, model: keras.layers.Layer, inputs, tmp_path: Path,
                              **call_kwargs) -> keras.Model:
        """Saves to `.keras`, reloads, and checks weights and outputs are identical.

        Args:
            model: a model, or a layer (saved inside a one-layer functional model).
            inputs: what `model` is called on: an array, or a list of arrays.
            tmp_path: a folder for the `.keras` file.
            **call_kwargs: passed to both calls (`training=False` for a deterministic call).

        Returns:
            The reloaded model.
        """
        if not isinstance(model, keras.Model):
            model = self._functional_host(model, inputs)
        path = Path(tmp_path) / f"{model.name}.keras"
        expected = keras.tree.map_structure(keras.ops.convert_to_numpy,
                                            model(inputs, **call_kwargs))
        model.save(path)
        reloaded = keras.models.load_model(path, safe_mode=True)
        assert type(reloaded) is type(model)
        assert [w.path for w in reloaded.weights] == [w.path for w in model.weights]
        for a, b in zip(model.weights, reloaded.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                          keras.ops.convert_to_numpy(b))
        actual = keras.tree.map_structure(keras.ops.convert_to_numpy,
                                          reloaded(inputs, **call_kwargs))
        keras.tree.map_structure(np.testing.assert_array_equal, actual, expected)
        return reloaded

    def run_export_check(self, model, tmp_path: Path, seed: int = 0) -> Path:
        """Exports `model` and checks its signatures under TF Serving's loading path.

        `decode` of random latents equals the model's own decode rounded to uint8, and
        `metadata`'s transition matrix is the model's A.

        Args:
            model: a `DynamicVAE`.
            tmp_path: a folder for the export.
            seed: seed of the latents.

        Returns:
            The exported version's folder.
        """
        from dynamic_vae.export import export_model
        from dynamic_vae.pixels import to_unit_range
        from dynamic_vae.serving.graph_model import GraphModel

        version_dir = export_model(model, Path(tmp_path) / "m", max_frames=EXPORT_MAX_FRAMES)
        graph_model = GraphModel(version_dir)
        try:
            latents = np.random.default_rng(seed).normal(
                size=(EXPORT_LATENTS, model.latent_dim)).astype(np.float32)
            served = graph_model.run("decode", {"latents": latents})["frames"]
            expected = to_unit_range(keras.ops.convert_to_numpy(model.decode(latents)),
                                     model.pixel_range) * 255.0
            assert served.dtype == np.uint8 and served.shape == expected.shape
            assert np.abs(served.astype(np.float64) - expected).max() <= UINT8_TOLERANCE
            metadata = graph_model.run("metadata", {})
            np.testing.assert_array_equal(metadata["transition_matrix"],
                                          keras.ops.convert_to_numpy(model.transition()[0]))
        finally:
            graph_model.close()
        return version_dir

    def run_all(self, obj: keras.layers.Layer, inputs, tmp_path: Path, **call_kwargs
                ) -> keras.layers.Layer:
        """Every check that applies to `obj`: config, `.keras`, and export for a DynamicVAE.

        Args:
            obj: a layer or model.
            inputs: what `obj` is called on.
            tmp_path: a folder for the files the checks write.
            **call_kwargs: passed to every call of `obj` and its reloaded copy.

        Returns:
            The object rebuilt from its config.
        """
        from dynamic_vae.models import DynamicVAE

        clone = self.run_config_round_trip(obj)
        self.run_keras_save_reload(obj, inputs, tmp_path, **call_kwargs)
        if isinstance(obj, DynamicVAE):
            self.run_export_check(obj, tmp_path)
        return clone

    @staticmethod
    def _functional_host(layer: keras.layers.Layer, inputs) -> keras.Model:
        """`layer` as the only layer of a functional model taking inputs shaped as `inputs`."""
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else inputs
        symbolic = keras.tree.map_structure(
            lambda a: keras.Input(shape=np.shape(a)[1:], dtype=str(np.asarray(a).dtype)), arrays)
        return keras.Model(symbolic, layer(symbolic), name=f"{layer.name}_host")


def _as_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True)
