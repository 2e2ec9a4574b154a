"""The SavedModel export: signatures, dtypes, seeds, bounds and atomic versioning."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.export import (DEFAULT_SIGNATURE, SIGNATURE_BUILDERS,
                                existing_versions, export_model, export_run, next_version,
                                register_signature, write_version)
from dynamic_vae.synthesis import initial_state_from_pair, synthesize
from tests.helpers.serving import (EXPORT_MAX_FRAMES, FRAME_SHAPE, LATENT_DIM, random_frames,
                                   shared_tiny_export)

MAX_FRAMES = EXPORT_MAX_FRAMES
METADATA_ONLY = [b for b in SIGNATURE_BUILDERS if b.name == "metadata"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    shared = shared_tiny_export(tmp_path_factory)
    return {**shared, "loaded": tf.saved_model.load(str(shared["version_dir"]))}


def generate(loaded, num_frames, seed, signature="generate"):
    outputs = loaded.signatures[signature](num_frames=tf.constant(num_frames, tf.int32),
                                           seed=tf.constant(seed, tf.int64))
    return {k: v.numpy() for k, v in outputs.items()}


def test_export_writes_version_1_with_every_signature(exported):
    assert exported["version_dir"].name == "1"
    assert (exported["version_dir"] / "saved_model.pb").is_file()
    assert set(exported["loaded"].signatures) == {
        "serving_default", "generate", "generate_from", "encode", "decode", "metadata",
        "forecast", "impute"}
    info = json.loads((exported["version_dir"] / "assets.extra" /
                       "dynamic_vae_export.json").read_text())
    assert info["max_frames"] == MAX_FRAMES and info["frame_shape"] == list(FRAME_SHAPE)


def test_export_writes_a_tf_serving_warmup_request(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    path = exported["version_dir"] / "assets.extra" / "tf_serving_warmup_requests"
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(str(path))]
    requests = [record.predict_log.request for record in records]
    assert [r.model_spec.signature_name for r in requests] == ["generate", "forecast", "impute"]
    request = requests[0]
    assert tf.make_ndarray(request.inputs["num_frames"]) == min(64, MAX_FRAMES)
    assert tf.make_ndarray(request.inputs["num_frames"]).dtype == np.int32
    # Each replays without error on the exported signature.
    for request in requests:
        inputs = {name: tf.constant(tf.make_ndarray(proto))
                  for name, proto in request.inputs.items()}
        exported["loaded"].signatures[request.model_spec.signature_name](**inputs)


def test_export_holds_the_weights_but_not_the_optimizer(exported):
    reader = tf.train.load_checkpoint(str(exported["version_dir"] / "variables" / "variables"))
    names = [n for n in reader.get_variable_to_shape_map() if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert not [n for n in names if "optimizer" in n]
    model_weights = sum(int(np.prod(w.shape)) for w in exported["model"].weights)
    saved = sum(int(np.prod(reader.get_variable_to_shape_map()[n])) for n in names)
    # Encoder, decoder and the dynamic layer's parameters, A and B as the model computes them
    # (2 n^2), plus the dynamic layer's two scalars (KL schedule, seed state).
    computed = 2 * exported["model"].latent_dim ** 2
    assert model_weights + computed <= saved <= model_weights + computed + 4


def test_signature_inputs_and_outputs_have_names_and_dtypes(exported):
    signatures = exported["loaded"].signatures
    specs = {name: (f.structured_input_signature[1], f.structured_outputs)
             for name, f in signatures.items()}
    inputs, outputs = specs["generate"]
    assert {k: v.dtype for k, v in inputs.items()} == {"num_frames": tf.int32,
                                                        "seed": tf.int64}
    assert inputs["num_frames"].shape.rank == 0 and inputs["seed"].shape.rank == 0
    assert outputs["frames"].dtype == tf.uint8
    assert outputs["frames"].shape.as_list() == [None, *FRAME_SHAPE]
    assert outputs["latents"].shape.as_list() == [None, LATENT_DIM]
    assert specs[DEFAULT_SIGNATURE] == specs["generate"]
    inputs, _ = specs["generate_from"]
    assert inputs["frame_pair"].shape.as_list() == [2, *FRAME_SHAPE]
    assert inputs["frame_pair"].dtype == tf.uint8
    inputs, outputs = specs["encode"]
    assert inputs["frame_pairs"].shape.as_list() == [None, 2, *FRAME_SHAPE]
    assert set(outputs) == {"mean", "log_variance"}
    inputs, outputs = specs["decode"]
    assert inputs["latents"].shape.as_list() == [None, LATENT_DIM]
    assert outputs["frames"].dtype == tf.uint8
    assert specs["metadata"][0] == {}


def test_generate_matches_the_in_process_synthesis(exported):
    served = generate(exported["loaded"], 20, seed=3)
    frames, latents = synthesize(exported["model"], 20, seed=3)
    assert served["frames"].shape == (20, *FRAME_SHAPE) and served["frames"].dtype == np.uint8
    np.testing.assert_allclose(served["latents"], latents[0], rtol=1e-5, atol=1e-5)
    # Rounding may differ by one level where the float decoder output sits on a .5 boundary.
    assert np.abs(served["frames"].astype(int) - frames[0].astype(int)).max() <= 1


def test_same_seed_same_frames_different_seeds_differ(exported):
    first = generate(exported["loaded"], 16, seed=7)
    again = generate(exported["loaded"], 16, seed=7)
    other = generate(exported["loaded"], 16, seed=8)
    np.testing.assert_array_equal(first["frames"], again["frames"])
    np.testing.assert_array_equal(first["latents"], again["latents"])
    assert not np.allclose(first["latents"], other["latents"])
    # serving_default is generate.
    np.testing.assert_array_equal(
        generate(exported["loaded"], 16, seed=7, signature=DEFAULT_SIGNATURE)["latents"],
        first["latents"])


def test_latents_follow_the_transition(exported):
    """x_{t+1} - A x_t lies in the range of B: with B invertible, v_t = B^-1 (x_{t+1} - A x_t)
    is a standard normal draw (independent numpy computation)."""
    latents = generate(exported["loaded"], MAX_FRAMES, seed=1)["latents"].astype(np.float64)
    a, b = (m.astype(np.float64) for m in exported["model"].transition())
    innovations = np.linalg.solve(b, (latents[1:] - latents[:-1] @ a.T).T).T
    assert abs(innovations.mean()) < 0.3 and 0.6 < innovations.std() < 1.4


@pytest.mark.parametrize("num_frames", [0, -5, MAX_FRAMES + 1, 2**31 - 1])
def test_num_frames_out_of_bounds_is_invalid_argument(exported, num_frames):
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_frames must be"):
        generate(exported["loaded"], num_frames, seed=0)


def test_num_frames_bounds_are_inclusive(exported):
    assert generate(exported["loaded"], 1, seed=0)["frames"].shape == (1, *FRAME_SHAPE)
    assert generate(exported["loaded"], MAX_FRAMES, seed=0)["latents"].shape == (
        MAX_FRAMES, LATENT_DIM)


def test_generate_from_starts_at_the_pair_posterior_mean(exported):
    pair = random_frames(2)
    outputs = exported["loaded"].signatures["generate_from"](
        frame_pair=tf.constant(pair), num_frames=tf.constant(5), seed=tf.constant(2, tf.int64))
    expected_x0 = initial_state_from_pair(exported["model"], pair)
    np.testing.assert_allclose(outputs["latents"][0].numpy(), expected_x0, rtol=1e-4,
                               atol=1e-5)
    _, in_process = synthesize(exported["model"], 5, seed=2, initial_pair=pair)
    np.testing.assert_allclose(outputs["latents"].numpy(), in_process[0], rtol=1e-4, atol=1e-4)


def test_encode_and_decode_match_the_model(exported):
    pairs = random_frames(6, seed=1).reshape(3, 2, *FRAME_SHAPE)
    outputs = exported["loaded"].signatures["encode"](frame_pairs=tf.constant(pairs))
    mean, log_variance = exported["model"].encode(pairs.astype(np.float32) / 255.0)
    assert outputs["mean"].shape == (3, 2 * LATENT_DIM)
    np.testing.assert_allclose(outputs["mean"].numpy(), mean.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["log_variance"].numpy(), log_variance.numpy(),
                               rtol=1e-4, atol=1e-5)
    latents = np.random.default_rng(0).normal(size=(5, LATENT_DIM)).astype(np.float32)
    decoded = exported["loaded"].signatures["decode"](latents=tf.constant(latents))["frames"]
    expected = np.clip(exported["model"].decode(latents).numpy(), 0, 1) * 255
    assert decoded.dtype == tf.uint8
    assert np.abs(decoded.numpy().astype(float) - expected).max() <= 0.5 + 1e-3


def test_metadata_reports_the_matrices_and_limits(exported):
    metadata = {k: v.numpy() for k, v in exported["loaded"].signatures["metadata"]().items()}
    a, b = exported["model"].transition()
    np.testing.assert_array_equal(metadata["transition_matrix"], a)
    np.testing.assert_array_equal(metadata["noise_matrix"], b)
    np.testing.assert_array_equal(metadata["frame_shape"], FRAME_SHAPE)
    np.testing.assert_array_equal(metadata["pixel_range"], [0.0, 1.0])
    assert metadata["max_frames"] == MAX_FRAMES and metadata["latent_dim"] == LATENT_DIM


def test_versions_count_up_and_a_failed_export_leaves_nothing(exported, tmp_path):
    model_dir = tmp_path / "m"
    (model_dir / "3").mkdir(parents=True)
    (model_dir / "not-a-version").mkdir()
    assert existing_versions(model_dir) == [3] and next_version(model_dir) == 4

    def fail(folder):
        (folder / "saved_model.pb").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_version(model_dir, fail)
    assert sorted(p.name for p in model_dir.iterdir()) == ["3", "not-a-version"]
    path = export_model(exported["model"], model_dir, max_frames=4, builders=METADATA_ONLY)
    assert path == model_dir / "4" and (path / "saved_model.pb").is_file()
    assert sorted(p.name for p in model_dir.iterdir()) == ["3", "4", "not-a-version"]


def test_float32_frames_export(exported, tmp_path):
    path = export_model(exported["model"], tmp_path / "f", max_frames=8, frames_dtype="float32",
                        builders=[b for b in SIGNATURE_BUILDERS if b.name == "generate"])
    loaded = tf.saved_model.load(str(path))
    frames = generate(loaded, 4, seed=3)["frames"]
    uint8 = generate(exported["loaded"], 4, seed=3)["frames"]
    assert frames.dtype == np.float32 and 0.0 <= frames.min() and frames.max() <= 1.0
    assert np.abs(frames * 255 - uint8).max() <= 0.5 + 1e-3


def test_registered_signatures_are_exported(exported, tmp_path):
    def build_double(module):
        @tf.function(input_signature=[tf.TensorSpec([None, module.latent_dim], tf.float32,
                                                    name="latents")])
        def double(latents):
            return {"doubled": 2.0 * latents}
        return double

    saved = list(SIGNATURE_BUILDERS)
    # Only the metadata signature and the new one, so the export is quick.
    SIGNATURE_BUILDERS[:] = METADATA_ONLY
    try:
        register_signature("double_for_test", build_double)
        with pytest.raises(ValueError, match="already registered"):
            register_signature("double_for_test", build_double)
        path = export_model(exported["model"], tmp_path / "d", max_frames=4)
    finally:
        SIGNATURE_BUILDERS[:] = saved
    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["double_for_test"](latents=tf.ones([2, LATENT_DIM]))
    np.testing.assert_array_equal(out["doubled"].numpy(), 2 * np.ones([2, LATENT_DIM]))
    assert "double_for_test" not in [b.name for b in SIGNATURE_BUILDERS]


def test_saved_model_cli_shows_the_signatures(exported):
    cli = Path(sys.executable).parent / "saved_model_cli"
    result = subprocess.run([str(cli), "show", "--dir", str(exported["version_dir"]), "--all"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for name in ("serving_default", "generate", "generate_from", "encode", "decode",
                 "metadata", "forecast", "impute"):
        assert f"signature_def['{name}']" in text
    forecast_block = text.split("signature_def['forecast']")[1].split("signature_def[")[0]
    for name, dtype in (("frames", "DT_UINT8"), ("num_steps", "DT_INT32"),
                        ("num_samples", "DT_INT32"), ("seed", "DT_INT64")):
        assert f"inputs['{name}'] tensor_info:\n        dtype: {dtype}" in forecast_block
    for name in ("mean_frames", "sampled_frames", "mean_latents", "latent_covariances",
                 "sampled_latents"):
        assert f"outputs['{name}']" in forecast_block
    impute_block = text.split("signature_def['impute']")[1].split("signature_def[")[0]
    assert "inputs['missing'] tensor_info:\n        dtype: DT_BOOL" in impute_block
    for name in ("imputed_frames", "smoothed_frames", "smoothed_means", "smoothed_covariances"):
        assert f"outputs['{name}']" in impute_block
    generate_block = text.split("signature_def['generate']")[1].split("signature_def[")[0]
    assert "inputs['num_frames'] tensor_info:\n        dtype: DT_INT32" in generate_block
    assert "inputs['seed'] tensor_info:\n        dtype: DT_INT64" in generate_block
    assert "outputs['frames'] tensor_info:\n        dtype: DT_UINT8" in generate_block
    assert "shape: (-1, 32, 32, 1)" in generate_block
    assert "outputs['latents'] tensor_info:\n        dtype: DT_FLOAT" in generate_block


def test_exported_graph_uses_no_python_ops(exported):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel.FromString(
        (exported["version_dir"] / "saved_model.pb").read_bytes())
    graph = saved_model.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    assert "StatelessRandomNormalV2" in ops  # the stateless RNG is in the graph
    assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
    assert not {op for op in ops if "Stateful" in op and "Random" in op}
    assert not {op for op in ops if op in ("RandomStandardNormal", "RandomUniform")}


def test_export_rejects_bad_names_and_missing_runs(exported, tmp_path):
    with pytest.raises(ValueError, match="plain folder name"):
        export_run(exported["run"], "../escape", base_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        export_run(tmp_path / "nothing", "x", base_dir=tmp_path)
    assert not (tmp_path / "x").exists()
