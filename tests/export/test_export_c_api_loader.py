"""Exports loaded by the C++ `LoadSavedModel` that `tensorflow_model_server` calls.

`CApiModel` reaches it through TensorFlow's C API (`TF_LoadSessionFromSavedModel`) with
ctypes, and runs each signature with `TF_SessionRun` by the tensor names of its SignatureDef,
read from the MetaGraphDef the loader returns. Every signature and every warm-up record runs
on that path and is compared with Python's object-graph loader (`tf.saved_model.load`) and
the tf.compat.v1 session loader (`GraphModel`).
"""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.export.example_requests import example_requests
from dynamic_vae.serving.c_api_model import CApiModel, c_library
from dynamic_vae.serving.graph_model import GraphModel
from tests.helpers.serving import (EXPORT_MAX_FRAMES, FRAME_SHAPE, LATENT_DIM,
                                   save_unrestorable_version, shared_tiny_export)

REQUESTS = example_requests(FRAME_SHAPE, LATENT_DIM)


@pytest.fixture(scope="module")
def loaders(tmp_path_factory):
    version_dir = shared_tiny_export(tmp_path_factory)["version_dir"]
    c_model = CApiModel(version_dir)
    graph_model = GraphModel(version_dir)
    yield {"version_dir": version_dir, "c_api": c_model, "graph": graph_model,
           "python": tf.saved_model.load(str(version_dir)).signatures}
    c_model.close()
    graph_model.close()


def run_python(signatures, name: str, inputs: dict) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in signatures[name](
        **{k: tf.constant(v) for k, v in inputs.items()}).items()}


def assert_same_outputs(actual: dict, expected: dict, context: str) -> None:
    assert set(actual) == set(expected), context
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype, f"{context} {key}"
        assert actual[key].shape == value.shape, f"{context} {key}"
        if value.dtype == np.uint8:
            # The same seed gives the same frames, whichever loader ran the graph.
            np.testing.assert_array_equal(actual[key], value, err_msg=f"{context} {key}")
        else:
            np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{context} {key}")


def test_the_c_loader_finds_every_signature_in_the_meta_graph_def(loaders):
    c_model = loaders["c_api"]
    assert set(c_model.signature_defs) == set(REQUESTS) == set(loaders["python"])
    assert "serve" in c_model.meta_graph.meta_info_def.tags
    # The tensor names come from the MetaGraphDef that LoadSavedModel returned.
    generate = c_model.signature_defs["generate"]
    assert generate.inputs["num_frames"].dtype == tf.int32.as_datatype_enum
    assert generate.inputs["seed"].dtype == tf.int64.as_datatype_enum
    assert generate.outputs["frames"].dtype == tf.uint8.as_datatype_enum
    assert c_model.output_names == loaders["graph"].output_names


@pytest.mark.parametrize("signature", sorted(REQUESTS))
def test_every_signature_on_the_c_loader_equals_both_python_loaders(loaders, signature):
    inputs = REQUESTS[signature]
    by_c_api = loaders["c_api"].run(signature, inputs)
    assert set(by_c_api) == set(loaders["c_api"].output_names[signature])
    assert_same_outputs(by_c_api, run_python(loaders["python"], signature, inputs),
                        f"{signature} (C API vs tf.saved_model.load)")
    assert_same_outputs(by_c_api, loaders["graph"].run(signature, inputs),
                        f"{signature} (C API vs tf.compat.v1 loader)")


def test_every_warmup_record_replays_on_the_c_loader(loaders):
    from tensorflow_serving.apis import prediction_log_pb2

    path = loaders["version_dir"] / "assets.extra" / "tf_serving_warmup_requests"
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(str(path))]
    requests = [record.predict_log.request for record in records]
    assert [r.model_spec.signature_name for r in requests] == ["generate", "forecast", "impute"]
    for request in requests:
        name = request.model_spec.signature_name
        inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        assert_same_outputs(loaders["c_api"].run(name, inputs),
                            run_python(loaders["python"], name, inputs), f"warm-up {name}")


def test_a_failed_bounds_check_is_invalid_argument_on_the_c_loader(loaders):
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_frames must be <="):
        loaders["c_api"].run("generate", {"num_frames": np.int32(EXPORT_MAX_FRAMES + 1),
                                          "seed": np.int64(0)})
    # The session keeps serving after the failed run.
    frames = loaders["c_api"].run("generate", REQUESTS["generate"], ["frames"])["frames"]
    assert frames.shape == (12, *FRAME_SHAPE)


def test_inputs_of_another_dtype_or_name_are_refused_before_running(loaders):
    with pytest.raises(ValueError, match="input 'num_frames': expected dtype int32, got int64"):
        loaders["c_api"].run("generate", {"num_frames": np.int64(4), "seed": np.int64(0)})
    with pytest.raises(ValueError, match=r"missing input\(s\) \['seed'\]"):
        loaders["c_api"].run("generate", {"num_frames": np.int32(4)})
    with pytest.raises(KeyError, match="no signature 'nope'"):
        loaders["c_api"].run("nope", {})


def test_a_missing_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(tf.errors.OpError, match=str(tmp_path / "absent")):
        CApiModel(tmp_path / "absent")


def test_string_and_bool_signatures_round_trip(tmp_path):
    """Dtypes the Dynamic VAE's signatures do not use still cross the C API intact."""

    class Strings(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words"),
                                      tf.TensorSpec([None], tf.bool, name="keep")])
        def tag(self, words, keep):
            return {"tagged": tf.strings.join([words, tf.where(keep, "+", "-")]),
                    "lengths": tf.strings.length(words, unit="BYTE"),
                    "kept": tf.logical_not(tf.logical_not(keep))}

    module = Strings()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"tag": module.tag})
    # A string longer than TF_TString's 22-byte inline buffer takes the heap path.
    words = np.array([b"a", "\u00e9t\u00e9".encode(), b"x" * 40], dtype=object)
    keep = np.array([True, False, True])
    with CApiModel(tmp_path / "1") as model:
        outputs = model.run("tag", {"words": words, "keep": keep})
    assert list(outputs["tagged"]) == [b"a+", "\u00e9t\u00e9-".encode(), b"x" * 40 + b"+"]
    np.testing.assert_array_equal(outputs["lengths"], [1, 5, 40])
    assert outputs["kept"].dtype == np.bool_
    np.testing.assert_array_equal(outputs["kept"], keep)


def test_a_version_the_cpp_loader_cannot_run_fails_there_too(tmp_path):
    """The Python object-graph loader runs this function; the C++ loader's session cannot,
    because the variable it reads is not one the restore op initialises."""

    save_unrestorable_version(tmp_path / "1")
    assert tf.saved_model.load(str(tmp_path / "1")).signatures["double"](
        x=tf.constant(3.0))["y"].numpy() == 6.0
    with CApiModel(tmp_path / "1") as model, pytest.raises(tf.errors.FailedPreconditionError):
        model.run("double", {"x": np.float32(3.0)})


def test_every_c_function_used_has_declared_pointer_sized_types():
    """ctypes assumes a 32-bit int result unless told: a pointer result must be declared."""
    import ctypes

    library = c_library()
    for name in ("TF_NewStatus", "TF_NewGraph", "TF_NewSessionOptions",
                 "TF_LoadSessionFromSavedModel", "TF_GraphOperationByName",
                 "TF_AllocateTensor", "TF_TensorData", "TF_StringGetDataPointer"):
        assert getattr(library, name).restype is ctypes.c_void_p, name
    assert ctypes.sizeof(ctypes.c_void_p) == 8
