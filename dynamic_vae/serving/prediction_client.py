"""A gRPC client for the exported signatures, using only the official TF Serving stubs, so
it works unchanged against `tensorflow_model_server` and the embedded server."""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

# Whole sequences come back in one message; gRPC's default 4 MB would cap them.
MAX_RESPONSE_BYTES = 512 * 1024 * 1024


class PredictionClient:
    """Predict / GetModelMetadata / GetModelStatus calls to one model on a TF Serving server.

    Args:
        target: `host:port` of the gRPC endpoint.
        model: the model name.
        version: pin every request to this version (`None`: the newest).
        timeout: seconds per call.

    Example:
    >>> with PredictionClient("localhost:8500", "counting") as client:
    ...     frames, latents = client.generate(num_frames=64, seed=3)
    """

    def __init__(self, target: str, model: str, version: int | None = None,
                 timeout: float = 30.0) -> None:
        self.target = target
        self.model = model
        self.version = version
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            target, options=[("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)])
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def _spec(self, message, signature_name: str | None = None) -> None:
        message.model_spec.name = self.model
        if self.version is not None:
            message.model_spec.version.value = self.version
        if signature_name is not None:
            message.model_spec.signature_name = signature_name

    def predict(self, signature_name: str, inputs: dict[str, np.ndarray]
                ) -> tuple[dict[str, np.ndarray], int]:
        """`(named outputs, version that answered)` of one Predict call.

        Raises:
            grpc.RpcError: with the server's status code (INVALID_ARGUMENT, NOT_FOUND, ...).
        """
        request = predict_pb2.PredictRequest()
        self._spec(request, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        response = self.predictions.Predict(request, timeout=self.timeout)
        outputs = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
        return outputs, int(response.model_spec.version.value)

    def generate(self, num_frames: int, seed: int,
                 signature_name: str = "generate") -> tuple[np.ndarray, np.ndarray]:
        """`(frames (T, H, W, C), latents (T, n))` of a new sequence (x_0 ~ N(0, I))."""
        outputs, _ = self.predict(signature_name, {"num_frames": np.int32(num_frames),
                                                   "seed": np.int64(seed)})
        return outputs["frames"], outputs["latents"]

    def generate_from(self, frame_pair: np.ndarray, num_frames: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Like `generate`, starting from the posterior mean of `frame_pair` (2, H, W, C)."""
        outputs, _ = self.predict("generate_from", {
            "frame_pair": np.asarray(frame_pair), "num_frames": np.int32(num_frames),
            "seed": np.int64(seed)})
        return outputs["frames"], outputs["latents"]

    def forecast(self, frames: np.ndarray, num_steps: int, num_samples: int = 0,
                 seed: int = 0) -> dict[str, np.ndarray]:
        """The `forecast` signature: `mean_frames (K, H, W, C)`, `sampled_frames
        (S, K, H, W, C)`, `mean_latents`, `latent_covariances`, `sampled_latents` of the
        K = num_steps frames after `frames (T, H, W, C)` (the export's frame dtype)."""
        outputs, _ = self.predict("forecast", {
            "frames": np.asarray(frames), "num_steps": np.int32(num_steps),
            "num_samples": np.int32(num_samples), "seed": np.int64(seed)})
        return outputs

    def impute(self, frames: np.ndarray, missing: np.ndarray) -> dict[str, np.ndarray]:
        """The `impute` signature: `imputed_frames`, `smoothed_frames (T, H, W, C)`,
        `smoothed_means`, `smoothed_covariances` of a clip with a bool mask `(T,)` (true =
        missing)."""
        outputs, _ = self.predict("impute", {"frames": np.asarray(frames),
                                             "missing": np.asarray(missing, dtype=bool)})
        return outputs

    def metadata(self) -> dict[str, np.ndarray]:
        """A, B, frame shape, pixel range, max_frames and latent_dim of the served model."""
        outputs, _ = self.predict("metadata", {})
        return outputs

    def signature_defs(self) -> get_model_metadata_pb2.SignatureDefMap:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            metadata_field=["signature_def"])
        self._spec(request)
        response = self.predictions.GetModelMetadata(request, timeout=self.timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return signature_map

    def status(self) -> get_model_status_pb2.GetModelStatusResponse:
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request)
        return self.models.GetModelStatus(request, timeout=self.timeout)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "PredictionClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
