"""The embedded TF Serving server over gRPC (official stubs) and REST, and the client."""

import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, predict_pb2

from dynamic_vae.export import export_model
from dynamic_vae.serving import ModelServer, ModelStore, PredictionClient
from dynamic_vae.serving.model_store import MAX_LOAD_ATTEMPTS
from dynamic_vae.synthesis import synthesize
from dynamic_vae.runs import load_run
from tests.helpers.serving import (EXPORT_MAX_FRAMES, FRAME_SHAPE, LATENT_DIM, make_tiny_run,
                                   random_frames, shared_tiny_export)

SERVER_MAX_FRAMES = 32
MAX_REQUEST_BYTES = 256 * 1024
MAX_BATCH = 16


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    shared = shared_tiny_export(tmp_path_factory)
    root, version_dir = shared["root"], shared["version_dir"]
    server = ModelServer(version_dir.parent, port=0, rest_port=0, num_versions=2,
                         poll_seconds=0.2, max_request_bytes=MAX_REQUEST_BYTES,
                         max_frames=SERVER_MAX_FRAMES, max_batch=MAX_BATCH).start()
    client = PredictionClient(f"127.0.0.1:{server.grpc_port}", "tiny")
    yield {"root": root, "server": server, "client": client, "model": shared["model"],
           "model_dir": version_dir.parent,
           "rest": f"http://127.0.0.1:{server.rest_port}/v1/models/tiny"}
    client.close()
    server.stop()


def rest(url, body=None):
    """`(HTTP status, JSON)` of a GET (body None) or POST."""
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def predict_request(inputs, signature="generate", model="tiny", version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def generate_inputs(num_frames=8, seed=3):
    return {"num_frames": np.int32(num_frames), "seed": np.int64(seed)}


def test_server_binds_loopback_and_serves_version_1(served):
    assert served["server"].host == "127.0.0.1"
    assert served["server"].store.versions() == [1]
    # The export's warm-up requests ran (generate's 48 frames despite the server's 32-frame
    # cap; forecast and impute).
    assert served["server"].store.get().warmup_requests == 3


def test_grpc_generate_matches_the_in_process_model(served):
    frames, latents = served["client"].generate(num_frames=12, seed=5)
    expected_frames, expected_latents = synthesize(served["model"], 12, seed=5)
    assert frames.dtype == np.uint8 and frames.shape == (12, *FRAME_SHAPE)
    np.testing.assert_allclose(latents, expected_latents[0], rtol=1e-5, atol=1e-5)
    assert np.abs(frames.astype(int) - expected_frames[0].astype(int)).max() <= 1
    again, _ = served["client"].generate(num_frames=12, seed=5)
    other, _ = served["client"].generate(num_frames=12, seed=6)
    np.testing.assert_array_equal(frames, again)
    assert not np.array_equal(frames, other)


def test_grpc_response_names_model_version_and_signature(served):
    response = served["client"].predictions.Predict(predict_request(generate_inputs()))
    assert response.model_spec.name == "tiny" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "generate"
    assert set(response.outputs) == {"frames", "latents"}
    default = served["client"].predictions.Predict(
        predict_request(generate_inputs(), signature=""))
    assert default.model_spec.signature_name == "serving_default"
    np.testing.assert_array_equal(tf.make_ndarray(default.outputs["frames"]),
                                  tf.make_ndarray(response.outputs["frames"]))


def test_grpc_output_filter(served):
    request = predict_request(generate_inputs())
    request.output_filter.append("latents")
    response = served["client"].predictions.Predict(request)
    assert set(response.outputs) == {"latents"}


def test_grpc_encode_decode_and_metadata(served):
    pairs = random_frames(4).reshape(2, 2, *FRAME_SHAPE)
    outputs, version = served["client"].predict("encode", {"frame_pairs": pairs})
    mean, _ = served["model"].encode(pairs.astype(np.float32) / 255.0)
    assert version == 1
    np.testing.assert_allclose(outputs["mean"], mean.numpy(), rtol=1e-4, atol=1e-5)
    decoded, _ = served["client"].predict("decode", {"latents": np.zeros([3, LATENT_DIM],
                                                                        np.float32)})
    assert decoded["frames"].shape == (3, *FRAME_SHAPE)
    metadata = served["client"].metadata()
    np.testing.assert_array_equal(metadata["transition_matrix"],
                                  served["model"].transition()[0])
    assert metadata["max_frames"] == EXPORT_MAX_FRAMES


def test_grpc_get_model_metadata_lists_the_signatures(served):
    signature_defs = served["client"].signature_defs().signature_def
    assert set(signature_defs) == {"serving_default", "generate", "generate_from", "encode",
                                   "decode", "metadata", "forecast", "impute"}
    generate = signature_defs["generate"]
    assert generate.inputs["num_frames"].dtype == tf.int32.as_datatype_enum
    assert generate.inputs["seed"].dtype == tf.int64.as_datatype_enum
    assert generate.outputs["frames"].dtype == tf.uint8.as_datatype_enum


def test_grpc_get_model_status(served):
    response = served["client"].status()
    assert [(s.version, s.state) for s in response.model_version_status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)]


BAD_REQUESTS = {
    "wrong dtype": (predict_request({"num_frames": np.int64(8), "seed": np.int64(1)}),
                    grpc.StatusCode.INVALID_ARGUMENT, "expected dtype int32"),
    "wrong shape": (predict_request({"num_frames": np.array([8, 8], np.int32),
                                     "seed": np.int64(1)}),
                    grpc.StatusCode.INVALID_ARGUMENT, "expected shape []"),
    "num_frames above the export bound": (predict_request(generate_inputs(10**6)),
                                          grpc.StatusCode.INVALID_ARGUMENT, "num_frames"),
    "num_frames above the server cap": (predict_request(generate_inputs(40)),
                                        grpc.StatusCode.INVALID_ARGUMENT, "[1, 32]"),
    "negative num_frames": (predict_request(generate_inputs(-3)),
                            grpc.StatusCode.INVALID_ARGUMENT, "num_frames"),
    "missing input": (predict_request({"num_frames": np.int32(4)}),
                      grpc.StatusCode.INVALID_ARGUMENT, "missing ['seed']"),
    "unknown input": (predict_request({**generate_inputs(), "temperature": np.float32(1)}),
                      grpc.StatusCode.INVALID_ARGUMENT, "unknown ['temperature']"),
    "unknown signature": (predict_request(generate_inputs(), signature="dream"),
                          grpc.StatusCode.INVALID_ARGUMENT, "'dream' not found"),
    "unknown model": (predict_request(generate_inputs(), model="other"),
                      grpc.StatusCode.NOT_FOUND, "Servable not found"),
    "unknown version": (predict_request(generate_inputs(), version=99),
                        grpc.StatusCode.NOT_FOUND, "Servable not found"),
    "frame pair of the wrong size": (
        predict_request({"frame_pair": np.zeros([2, 16, 16, 1], np.uint8),
                         **generate_inputs()}, signature="generate_from"),
        grpc.StatusCode.INVALID_ARGUMENT, "expected shape [2, 32, 32, 1]"),
    "batch above the server cap": (
        predict_request({"latents": np.zeros([MAX_BATCH + 1, LATENT_DIM], np.float32)},
                        signature="decode"),
        grpc.StatusCode.INVALID_ARGUMENT, "exceeds this server's limit of 16"),
    "request too large": (
        predict_request({"frame_pairs": np.zeros([200, 2, *FRAME_SHAPE], np.uint8)},
                        signature="encode"),
        grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_grpc_request_is_rejected_and_the_server_keeps_serving(served, case):
    request, code, text = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as raised:
        served["client"].predictions.Predict(request, timeout=30)
    assert raised.value.code() == code
    assert text in raised.value.details()
    frames, _ = served["client"].generate(num_frames=4, seed=1)
    assert frames.shape == (4, *FRAME_SHAPE)


def test_rest_predict_matches_grpc(served):
    status, body = rest(served["rest"] + ":predict",
                        {"signature_name": "generate", "inputs": {"num_frames": 6, "seed": 9}})
    assert status == 200
    frames, latents = served["client"].generate(num_frames=6, seed=9)
    np.testing.assert_array_equal(np.array(body["outputs"]["frames"], np.uint8), frames)
    np.testing.assert_allclose(np.array(body["outputs"]["latents"]), latents, rtol=1e-6)
    status, pinned = rest(served["rest"] + "/versions/1:predict",
                          {"inputs": {"num_frames": 6, "seed": 9}})
    assert status == 200 and pinned["outputs"]["frames"] == body["outputs"]["frames"]


def test_rest_row_format_for_batched_signatures(served):
    latents = np.random.default_rng(0).normal(size=(3, LATENT_DIM)).tolist()
    status, body = rest(served["rest"] + ":predict",
                        {"signature_name": "decode", "instances": latents})
    assert status == 200 and np.array(body["predictions"]).shape == (3, *FRAME_SHAPE)
    decoded, _ = served["client"].predict("decode", {"latents": np.array(latents, np.float32)})
    np.testing.assert_array_equal(np.array(body["predictions"], np.uint8), decoded["frames"])
    status, body = rest(served["rest"] + ":predict",
                        {"signature_name": "decode",
                         "instances": [{"latents": row} for row in latents]})
    assert status == 200 and len(body["predictions"]) == 3


def test_rest_status_and_metadata(served):
    status, body = rest(served["rest"])
    assert status == 200
    assert body["model_version_status"] == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                          "error_message": ""}}]
    status, body = rest(served["rest"] + "/metadata")
    assert status == 200 and body["model_spec"]["version"] == "1"
    generate = body["metadata"]["signature_def"]["signature_def"]["generate"]
    assert generate["inputs"]["num_frames"]["dtype"] == "DT_INT32"


@pytest.mark.parametrize("path, body, status, text", [
    (":predict", {"signature_name": "generate", "inputs": {"num_frames": 99, "seed": 1}},
     400, "num_frames"),
    (":predict", {"signature_name": "generate", "inputs": {"num_frames": 2.5, "seed": 1}},
     400, "expected integers"),
    (":predict", {"signature_name": "decode", "instances": [[1, 2]]}, 400, "expected shape"),
    (":predict", {"signature_name": "generate", "instances": [{"num_frames": 2, "seed": 1}]},
     400, "expected shape []"),
    (":predict", {"signature_name": "nope", "inputs": {}}, 400, "not found"),
    (":predict", {"inputs": {}, "instances": []}, 400, "exactly one"),
    (":predict", b"{not json", 400, "not valid JSON"),
    (":predict", {"inputs": {"num_frames": 1, "seed": 1}, "pad": "x" * MAX_REQUEST_BYTES},
     400, "exceeds the limit"),
    ("/versions/7:predict", {"inputs": {"num_frames": 1, "seed": 1}}, 404, "Servable"),
    ("/versions/seven:predict", {"inputs": {}}, 400, "integer"),
])
def test_bad_rest_request_is_rejected_and_the_server_keeps_serving(served, path, body,
                                                                    status, text):
    answer_status, answer = rest(served["rest"] + path, body)
    assert answer_status == status and text in answer["error"]
    ok_status, ok = rest(served["rest"] + ":predict", {"inputs": {"num_frames": 2, "seed": 1}})
    assert ok_status == 200 and len(ok["outputs"]["frames"]) == 2


def test_rest_unknown_model_is_404(served):
    status, body = rest(served["rest"].replace("/tiny", "/other"))
    assert status == 404 and "other" in body["error"]


@pytest.mark.slow
def test_16_concurrent_clients_50_requests_each_without_errors(served):
    errors, results = [], []

    def work(index):
        client = PredictionClient(f"127.0.0.1:{served['server'].grpc_port}", "tiny")
        try:
            for i in range(50):
                frames, _ = client.generate(num_frames=4, seed=index * 1000 + i)
                results.append(frames.shape)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(results) == 16 * 50
    assert set(results) == {(4, *FRAME_SHAPE)}


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_partial_and_broken_versions_are_not_served(served, tmp_path):
    model_dir = tmp_path / "m"
    shutil.copytree(served["model_dir"] / "1", model_dir / "1")
    (model_dir / ".export-in-progress").mkdir()
    (model_dir / "2").mkdir()
    (model_dir / "2" / "saved_model.pb").write_bytes(b"half a file")
    store = ModelStore(model_dir, "m")
    for _ in range(MAX_LOAD_ATTEMPTS):
        assert store.poll() == [1]  # the broken newest version never replaces a working one
    assert [(s.version, s.state) for s in store.statuses()] == [(2, "END"), (1, "AVAILABLE")]
    assert store.get().version == 1


def test_new_versions_are_picked_up_without_failing_requests_and_can_be_pinned(served):
    """Runs last: it adds versions 2 and 3 to the served folder."""
    client, errors, answered = served["client"], [], []
    stop = threading.Event()

    def keep_requesting():
        while not stop.is_set():
            try:
                answered.append(client.predict("generate", generate_inputs(8, 4))[1])
                time.sleep(0.01)  # leave the cores to the export and the load
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=keep_requesting) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        other_model = load_run(make_tiny_run(served["root"] / "run2", seed=1)).model
        assert export_model(other_model, served["model_dir"],
                            max_frames=EXPORT_MAX_FRAMES).name == "2"
        assert wait_for(lambda: served["server"].store.versions() == [1, 2])
        assert wait_for(lambda: answered[-1:] == [2])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == [] and answered[0] == 1 and answered[-1] == 2

    v1, _ = PredictionClient(client.target, "tiny", version=1).generate(8, seed=4)
    v2, _ = PredictionClient(client.target, "tiny", version=2).generate(8, seed=4)
    expected_v1, _ = synthesize(served["model"], 8, seed=4)
    expected_v2, _ = synthesize(other_model, 8, seed=4)
    assert np.abs(v1.astype(int) - expected_v1[0]).max() <= 1
    assert np.abs(v2.astype(int) - expected_v2[0]).max() <= 1
    statuses = [s.version for s in client.status().model_version_status]
    assert statuses == [2, 1]

    # With two versions kept, version 3 retires version 1.
    export_model(other_model, served["model_dir"], max_frames=EXPORT_MAX_FRAMES)
    assert wait_for(lambda: served["server"].store.versions() == [2, 3])
    with pytest.raises(grpc.RpcError) as raised:
        PredictionClient(client.target, "tiny", version=1).generate(8, seed=4)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert client.predict("generate", generate_inputs())[1] == 3
