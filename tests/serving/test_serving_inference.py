"""The exported `forecast` and `impute` signatures, served over gRPC and REST: the same
results as the Python API (`dynamic_vae.inference.video`), bounds, seeds and the client CLI."""

import json
import shutil
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.cli import main
from dynamic_vae.pixels import to_pixel_range
from dynamic_vae.inference.clip import forecast_posteriors, smooth_clip
from dynamic_vae.inference.video import forecast, impute
from dynamic_vae.serving import ModelServer, PredictionClient
from tests.helpers.serving import (EXPORT_MAX_FRAMES, FRAME_SHAPE, LATENT_DIM, random_frames,
                                   shared_tiny_export)

CLIP = 10
STEPS = 6
SAMPLES = 3
SEED = 11
# float32 Kalman outputs of the same graph code; they differ from the in-process run only by
# the float64 -> float32 cast.
LATENT_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    shared = shared_tiny_export(tmp_path_factory)
    # A copy of version 1: other modules add versions of another model to the shared folder.
    model_dir = tmp_path_factory.mktemp("inference-serving") / "tiny"
    shutil.copytree(shared["version_dir"], model_dir / "1")
    server = ModelServer(model_dir, port=0, rest_port=0, poll_seconds=60).start()
    client = PredictionClient(f"127.0.0.1:{server.grpc_port}", "tiny")
    yield {"server": server, "client": client, "model": shared["model"],
           "rest": f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"}
    client.close()
    server.stop()


def rest_predict(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def gap_mask():
    missing = np.zeros(CLIP, bool)
    missing[[0, 3, 4, 7]] = True
    return missing


def test_grpc_forecast_matches_the_python_api(served):
    # forecast and impute were warmed up on load (beside generate).
    assert served["server"].store.get().warmup_requests == 3
    model, frames = served["model"], random_frames(CLIP, seed=1)
    outputs = served["client"].forecast(frames, STEPS, num_samples=SAMPLES, seed=SEED)
    mean, samples = forecast(model, frames, STEPS, num_samples=SAMPLES, seed=SEED)
    assert outputs["mean_frames"].dtype == np.uint8
    assert outputs["mean_frames"].shape == (STEPS, *FRAME_SHAPE)
    assert outputs["sampled_frames"].shape == (SAMPLES, STEPS, *FRAME_SHAPE)
    # uint8 frames decoded from float32 latents equal up to one rounding step.
    assert np.abs(outputs["mean_frames"].astype(int) - mean).max() <= 1
    assert np.abs(outputs["sampled_frames"].astype(int) - samples).max() <= 1

    means, covariances, sampled = forecast_posteriors(
        model, tf.constant(to_pixel_range(frames, model.pixel_range)),
        tf.zeros([CLIP], tf.bool), STEPS, SAMPLES, tf.constant([SEED, 0], tf.int32))
    np.testing.assert_allclose(outputs["mean_latents"], means.numpy(), atol=LATENT_TOLERANCE)
    np.testing.assert_allclose(outputs["latent_covariances"], covariances.numpy(),
                               atol=LATENT_TOLERANCE)
    np.testing.assert_allclose(outputs["sampled_latents"], sampled.numpy(),
                               atol=LATENT_TOLERANCE)
    assert outputs["latent_covariances"].shape == (STEPS, LATENT_DIM, LATENT_DIM)


def test_forecast_is_seeded_and_zero_samples_gives_the_mean_only(served):
    client, frames = served["client"], random_frames(CLIP, seed=2)
    first = client.forecast(frames, 4, num_samples=2, seed=5)
    again = client.forecast(frames, 4, num_samples=2, seed=5)
    other = client.forecast(frames, 4, num_samples=2, seed=6)
    np.testing.assert_array_equal(first["sampled_latents"], again["sampled_latents"])
    assert np.abs(first["sampled_latents"] - other["sampled_latents"]).max() > 1e-3
    # The mean does not depend on the seed.
    np.testing.assert_array_equal(first["mean_latents"], other["mean_latents"])
    mean_only = client.forecast(frames, 4, num_samples=0, seed=5)
    assert mean_only["sampled_frames"].shape == (0, 4, *FRAME_SHAPE)
    np.testing.assert_array_equal(mean_only["mean_frames"], first["mean_frames"])


def test_rest_impute_matches_the_python_api(served):
    model, frames, missing = served["model"], random_frames(CLIP, seed=3), gap_mask()
    status, body = rest_predict(served["rest"], {
        "signature_name": "impute",
        "inputs": {"frames": frames.tolist(), "missing": missing.tolist()}})
    assert status == 200, body
    outputs = {name: np.asarray(value) for name, value in body["outputs"].items()}
    imputed = impute(model, frames, missing)
    smoothed = impute(model, frames, missing, keep_observed=False)
    assert outputs["imputed_frames"].shape == (CLIP, *FRAME_SHAPE)
    # Present frames come back exactly as sent.
    np.testing.assert_array_equal(outputs["imputed_frames"][~missing], frames[~missing])
    assert np.abs(outputs["imputed_frames"] - imputed.astype(int)).max() <= 1
    assert np.abs(outputs["smoothed_frames"] - smoothed.astype(int)).max() <= 1
    posteriors = smooth_clip(model, tf.constant(to_pixel_range(frames, model.pixel_range)),
                             tf.constant(missing))
    np.testing.assert_allclose(outputs["smoothed_means"], posteriors.smoothed_means.numpy(),
                               atol=LATENT_TOLERANCE)
    np.testing.assert_allclose(outputs["smoothed_covariances"],
                               posteriors.smoothed_covariances.numpy(), atol=LATENT_TOLERANCE)


def test_grpc_impute_and_rest_forecast_agree_with_the_other_protocol(served):
    client, frames, missing = served["client"], random_frames(CLIP, seed=4), gap_mask()
    grpc_impute = client.impute(frames, missing)
    status, body = rest_predict(served["rest"], {
        "signature_name": "impute",
        "inputs": {"frames": frames.tolist(), "missing": missing.tolist()}})
    assert status == 200
    np.testing.assert_array_equal(np.asarray(body["outputs"]["imputed_frames"]),
                                  grpc_impute["imputed_frames"])
    status, body = rest_predict(served["rest"], {
        "signature_name": "forecast",
        "inputs": {"frames": frames.tolist(), "num_steps": 3, "num_samples": 1, "seed": 8}})
    assert status == 200, body
    np.testing.assert_array_equal(np.asarray(body["outputs"]["sampled_frames"]),
                                  client.forecast(frames, 3, 1, 8)["sampled_frames"])


FORECAST_OK = {"frames": random_frames(CLIP), "num_steps": np.int32(4),
               "num_samples": np.int32(2), "seed": np.int64(1)}
BAD_REQUESTS = {
    "no steps": ("forecast", {**FORECAST_OK, "num_steps": np.int32(0)}, "num_steps must be >= 1"),
    "too many steps": ("forecast", {**FORECAST_OK, "num_steps": np.int32(EXPORT_MAX_FRAMES + 1)},
                       f"num_steps must be <= {EXPORT_MAX_FRAMES}"),
    "huge steps": ("forecast", {**FORECAST_OK, "num_steps": np.int32(2**31 - 1)},
                   "num_steps must be <="),
    "negative samples": ("forecast", {**FORECAST_OK, "num_samples": np.int32(-1)},
                         "num_samples must be >= 0"),
    "samples x steps": ("forecast", {**FORECAST_OK, "num_steps": np.int32(EXPORT_MAX_FRAMES),
                                     "num_samples": np.int32(2)}, "num_samples * num_steps"),
    "one frame": ("forecast", {**FORECAST_OK, "frames": random_frames(1)},
                  "number of frames (T of frames) must be >= 2"),
    "long clip": ("forecast", {**FORECAST_OK, "frames": random_frames(EXPORT_MAX_FRAMES + 1)},
                  f"must be <= {EXPORT_MAX_FRAMES}"),
    "float frames": ("forecast", {**FORECAST_OK, "frames": np.zeros((CLIP, *FRAME_SHAPE),
                                                                    np.float32)},
                     "expected dtype uint8"),
    "mask length": ("impute", {"frames": random_frames(CLIP), "missing": np.zeros(CLIP - 1, bool)},
                    "one entry per frame"),
    "all missing": ("impute", {"frames": random_frames(CLIP), "missing": np.ones(CLIP, bool)},
                    "at least one must be present"),
    "int mask": ("impute", {"frames": random_frames(CLIP), "missing": np.zeros(CLIP, np.int32)},
                 "expected dtype bool"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_are_invalid_argument_and_the_server_keeps_serving(served, case):
    signature, inputs, message = BAD_REQUESTS[case]
    client = served["client"]
    with pytest.raises(grpc.RpcError) as raised:
        client.predict(signature, inputs)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.details()
    outputs, _ = client.predict("forecast", FORECAST_OK)
    assert outputs["mean_frames"].shape == (4, *FRAME_SHAPE)


def test_the_server_frame_cap_bounds_forecast_steps(served):
    servable = served["server"].store.get()
    servable.max_frames = 3  # as `dynamic-vae serve --max-frames 3` sets it
    try:
        with pytest.raises(grpc.RpcError) as raised:
            served["client"].forecast(random_frames(CLIP), 4)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'num_steps': must lie in [1, 3] on this server" in raised.value.details()
        assert served["client"].forecast(random_frames(CLIP), 3)["mean_frames"].shape[0] == 3
    finally:
        servable.max_frames = None


def test_rest_bad_request_is_400_and_the_next_request_works(served):
    frames = random_frames(CLIP).tolist()
    status, body = rest_predict(served["rest"], {
        "signature_name": "forecast",
        "inputs": {"frames": frames, "num_steps": EXPORT_MAX_FRAMES + 1, "num_samples": 0,
                   "seed": 1}})
    assert status == 400 and "num_steps must be <=" in body["error"]
    status, body = rest_predict(served["rest"], {
        "signature_name": "forecast",
        "inputs": {"frames": frames, "num_steps": 2, "num_samples": 0, "seed": 1}})
    assert status == 200 and np.asarray(body["outputs"]["mean_frames"]).shape == (2, *FRAME_SHAPE)


def test_client_cli_forecast_and_impute(served, tmp_path, capsys):
    target = f"127.0.0.1:{served['server'].grpc_port}"
    frames = random_frames(CLIP, seed=5)
    clip_path = tmp_path / "clip.npy"
    np.save(clip_path, frames)
    assert main(["client", "forecast", "--target", target, "--model", "tiny",
                 "--frames", str(clip_path), "--steps", "5", "--samples", "2", "--seed", "3",
                 "--out", str(tmp_path / "mean.npy"),
                 "--samples-out", str(tmp_path / "samples.npy")]) == 0
    expected = served["client"].forecast(frames, 5, 2, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "mean.npy"), expected["mean_frames"])
    np.testing.assert_array_equal(np.load(tmp_path / "samples.npy"), expected["sampled_frames"])

    # Float frames in [0, 1] are converted to the export's uint8.
    np.save(clip_path, frames.astype(np.float32) / 255.0)
    assert main(["client", "impute", "--target", target, "--model", "tiny",
                 "--frames", str(clip_path), "--missing", "2,5-6",
                 "--out", str(tmp_path / "imputed.npy")]) == 0
    missing = np.zeros(CLIP, bool)
    missing[[2, 5, 6]] = True
    np.testing.assert_array_equal(np.load(tmp_path / "imputed.npy"),
                                  served["client"].impute(frames, missing)["imputed_frames"])
    assert "imputed 3 of 10 frames" in capsys.readouterr().out

    assert main(["client", "forecast", "--target", target, "--model", "tiny",
                 "--frames", str(clip_path), "--steps", str(EXPORT_MAX_FRAMES + 1),
                 "--out", str(tmp_path / "x.npy")]) == 2
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()


def test_float32_export_matches_the_python_api_and_rejects_bad_pixels(served, tmp_path):
    from dynamic_vae.export import SIGNATURE_BUILDERS, export_model

    model = served["model"]
    path = export_model(model, tmp_path / "f", max_frames=24, frames_dtype="float32",
                        builders=[b for b in SIGNATURE_BUILDERS
                                  if b.name in ("forecast", "impute")])
    signatures = tf.saved_model.load(str(path)).signatures
    frames = random_frames(CLIP, seed=6).astype(np.float32) / 255.0
    # STEPS and SAMPLES as above: the Python API's compiled forecast is reused, not retraced.
    outputs = signatures["forecast"](
        frames=tf.constant(frames), num_steps=tf.constant(STEPS),
        num_samples=tf.constant(SAMPLES), seed=tf.constant(4, tf.int64))
    mean, samples = forecast(model, frames, STEPS, num_samples=SAMPLES, seed=4, as_uint8=False)
    np.testing.assert_allclose(outputs["mean_frames"].numpy(), mean, atol=1e-5)
    np.testing.assert_allclose(outputs["sampled_frames"].numpy(), samples, atol=1e-5)

    missing = gap_mask()
    imputed = signatures["impute"](frames=tf.constant(frames), missing=tf.constant(missing))
    np.testing.assert_allclose(imputed["imputed_frames"].numpy(),
                               impute(model, frames, missing, as_uint8=False), atol=1e-5)
    np.testing.assert_array_equal(imputed["imputed_frames"].numpy()[~missing], frames[~missing])

    for bad in (np.nan, 1.5, -0.1):
        corrupt = frames.copy()
        corrupt[2, 3, 4, 0] = bad
        with pytest.raises(tf.errors.InvalidArgumentError, match="finite and lie in"):
            signatures["impute"](frames=tf.constant(corrupt), missing=tf.constant(missing))
