"""Exports run under TF Serving's own loading path, not only under `tf.saved_model.load`.

TF Serving (like `saved_model_cli run` and `tf.compat.v1.saved_model.loader.load`) imports the
MetaGraph into a fresh TF1 graph, runs the restore op and fetches the SignatureDef's tensor names. A
SavedModel whose functions read variables that the restore op does not initialise loads in
Python and fails there. Every signature is run on both paths, on a small trained model.
"""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.data import make_frame_pairs
from dynamic_vae.export import export_model
from dynamic_vae.export.example_requests import example_requests
from dynamic_vae.models import DynamicVAE
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.graph_model import GraphModel
from tests.helpers.serving import save_unrestorable_version

FRAME_SHAPE = (16, 16, 1)
LATENT_DIM = 3
MAX_FRAMES = 24


def moving_bar(num_frames: int) -> np.ndarray:
    """A bright bar stepping down a 16x16 frame, one row a frame, period 16."""
    frames = np.zeros((num_frames, *FRAME_SHAPE), np.float32)
    for t in range(num_frames):
        frames[t, t % 16, :, 0] = 1.0
    return frames


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=LATENT_DIM, base_channels=8,
                       sigma=0.3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    model.fit(make_frame_pairs(moving_bar(64)).dataset(16, seed=0), epochs=2, verbose=0)
    version_dir = export_model(model, tmp_path_factory.mktemp("graph") / "bar",
                               max_frames=MAX_FRAMES)
    graph_model = GraphModel(version_dir)
    yield {"model": model, "version_dir": version_dir, "graph_model": graph_model,
           "python": tf.saved_model.load(str(version_dir)).signatures}
    graph_model.close()


def request_inputs() -> dict[str, dict[str, np.ndarray]]:
    return example_requests(FRAME_SHAPE, LATENT_DIM)


def test_every_variable_the_graph_mode_graph_holds_is_initialised(trained_export):
    """The regression check: every variable handle in the graph-mode loaded graph has a value.

    Before the export tracked only the backing tf.Variables, half the handles (the ones the
    signature functions read) were never initialised by the restore op.
    """
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as runner:
        tf.compat.v1.saved_model.loader.load(runner, ["serve"],
                                             str(trained_export["version_dir"]))
        handles = [op.outputs[0] for op in graph.get_operations() if op.type == "VarHandleOp"]
        initialised = runner.run([tf.raw_ops.VarIsInitializedOp(resource=h) for h in handles])
    weights = len(trained_export["model"].encoder.variables
                  + trained_export["model"].decoder.variables
                  + trained_export["model"].dynamic_layer.variables)
    # Plus A and B as the model computed them, stored beside the parameters.
    assert len(handles) == weights + 2
    assert all(initialised)


def test_the_graph_mode_path_runs_every_signature(trained_export):
    graph_model = trained_export["graph_model"]
    assert set(graph_model.signature_defs) == set(request_inputs())
    for name, inputs in request_inputs().items():
        outputs = graph_model.run(name, inputs)
        assert set(outputs) == set(graph_model.output_names[name]), name
        assert all(np.all(np.isfinite(v.astype(np.float64))) for v in outputs.values()), name


@pytest.mark.parametrize("signature", sorted(request_inputs()))
def test_graph_mode_outputs_equal_the_python_path(trained_export, signature):
    inputs = request_inputs()[signature]
    by_graph = trained_export["graph_model"].run(signature, inputs)
    by_python = {k: v.numpy() for k, v in trained_export["python"][signature](
        **{k: tf.constant(v) for k, v in inputs.items()}).items()}
    assert set(by_graph) == set(by_python)
    for key, expected in by_python.items():
        if expected.dtype == np.uint8:
            # Identical frames for the same seed.
            np.testing.assert_array_equal(by_graph[key], expected, err_msg=key)
        else:
            np.testing.assert_allclose(by_graph[key], expected, rtol=1e-5, atol=1e-5,
                                       err_msg=key)


def test_generate_on_the_graph_mode_path_matches_the_trained_model(trained_export):
    """Not only equal to the Python loader: equal to the trained model's own matrices."""
    metadata = trained_export["graph_model"].run("metadata", {})
    a, b = trained_export["model"].transition()
    np.testing.assert_array_equal(metadata["transition_matrix"], a)
    np.testing.assert_array_equal(metadata["noise_matrix"], b)
    latents = trained_export["graph_model"].run(
        "generate", {"num_frames": np.int32(MAX_FRAMES), "seed": np.int64(0)})["latents"]
    innovations = np.linalg.solve(b.astype(np.float64),
                                  (latents[1:] - latents[:-1] @ a.T).T.astype(np.float64))
    assert np.all(np.isfinite(innovations)) and 0.4 < innovations.std() < 1.6


def test_every_warmup_record_replays_through_the_graph_mode_loader(trained_export):
    from tensorflow_serving.apis import prediction_log_pb2

    path = trained_export["version_dir"] / "assets.extra" / "tf_serving_warmup_requests"
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(str(path))]
    assert len(records) == 3
    for record in records:
        request = record.predict_log.request
        outputs = trained_export["graph_model"].run(
            request.model_spec.signature_name,
            {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()})
        assert outputs, request.model_spec.signature_name


def test_bounds_checks_raise_invalid_argument_on_the_graph_mode_path(trained_export):
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_frames must be <="):
        trained_export["graph_model"].run(
            "generate", {"num_frames": np.int32(MAX_FRAMES + 1), "seed": np.int64(0)})


def test_the_embedded_server_loads_through_the_graph_mode_path(trained_export):
    servable = Servable(trained_export["version_dir"], 1)
    assert servable.warmup_requests == 3
    inputs = request_inputs()["generate"]
    np.testing.assert_array_equal(servable.run("generate", inputs)["frames"],
                                  trained_export["graph_model"].run("generate", inputs)["frames"])


def test_a_version_the_graph_mode_loader_cannot_run_is_not_served(trained_export, tmp_path):
    """A SavedModel whose function reads a variable the checkpoint never restores: the
    Python loader runs it, the graph-mode loader (and so TF Serving, and our server) cannot."""

    save_unrestorable_version(tmp_path / "1")
    python_path = tf.saved_model.load(str(tmp_path / "1")).signatures["double"]
    assert python_path(x=tf.constant(3.0))["y"].numpy() == 6.0
    with pytest.raises(tf.errors.FailedPreconditionError):
        GraphModel(tmp_path / "1").run("double", {"x": np.float32(3.0)})


@pytest.mark.slow
def test_saved_model_cli_runs_generate(trained_export, tmp_path):
    np.save(tmp_path / "nf.npy", np.int32(6))
    np.save(tmp_path / "seed.npy", np.int64(4))
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "run", "--dir", str(trained_export["version_dir"]), "--tag_set", "serve",
         "--signature_def", "generate", "--inputs",
         f"num_frames={tmp_path / 'nf.npy'};seed={tmp_path / 'seed.npy'}",
         "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    frames = np.load(tmp_path / "out" / "frames.npy")
    expected = trained_export["graph_model"].run(
        "generate", {"num_frames": np.int32(6), "seed": np.int64(4)})["frames"]
    np.testing.assert_array_equal(frames, expected)
