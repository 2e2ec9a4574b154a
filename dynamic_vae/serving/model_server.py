"""An embedded model server speaking TF Serving's gRPC and REST APIs for one model."""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from pathlib import Path

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from dynamic_vae.serving.model_servicer import ModelServicer
from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.prediction_servicer import PredictionServicer
from dynamic_vae.serving.rest_server import RestServer

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH = 1024
# Responses carry whole sequences (1024 frames of 256x256x3 are 200 MB): no send limit.
UNLIMITED = -1


class ModelServer:
    """Serves the versions in `base_path` over gRPC (`port`) and REST (`rest_port`).

    Semantics follow `tensorflow_model_server`: the newest version answers requests without
    a version, `base_path` is polled for new versions, which are swapped in once loaded
    (requests in flight finish on the version they started on), and requests may pin a
    loaded version. Bad requests get INVALID_ARGUMENT (REST 400) or NOT_FOUND (404), and the
    server keeps serving.

    Args:
        base_path: the model's folder (`saved_models/NAME`).
        name: the model name requests use (default: the folder's name).
        port: gRPC port (0 picks a free one; see `grpc_port` after `start`).
        rest_port: REST port (0 picks a free one; `None` disables REST).
        host: the address to bind; 127.0.0.1 keeps the server local.
        num_versions: versions kept loaded (newest first), `None` for all.
        poll_seconds: how often `base_path` is checked for new versions (0: never).
        max_request_bytes: the largest request accepted (gRPC message or REST body).
        max_frames: server-side cap on `num_frames` / `num_steps` inputs (the export's bound
            still holds).
        max_batch: cap on the batch dimension of batched inputs (encode, decode).
        workers: threads answering gRPC requests.

    Example:
    >>> server = ModelServer("saved_models/counting", port=8500, rest_port=8501).start()
    >>> server.wait()
    """

    def __init__(self, base_path: str | Path, name: str | None = None, port: int = 8500,
                 rest_port: int | None = 8501, host: str = "127.0.0.1",
                 num_versions: int | None = 1, poll_seconds: float = 1.0,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
                 max_frames: int | None = None, max_batch: int | None = DEFAULT_MAX_BATCH,
                 workers: int = 16) -> None:
        base_path = Path(base_path)
        self.store = ModelStore(base_path, name or base_path.resolve().name,
                                num_versions=num_versions, max_frames=max_frames,
                                max_batch=max_batch)
        self.host = host
        self.port = port
        self.rest_port = rest_port
        self.poll_seconds = poll_seconds
        self.max_request_bytes = int(max_request_bytes)
        self.workers = workers
        self.grpc_port: int | None = None
        self._grpc_server: grpc.Server | None = None
        self._rest_server: RestServer | None = None
        self._rest_thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.store.name

    def start(self) -> "ModelServer":
        """Loads the current versions, then starts polling and both listeners."""
        self.store.poll()
        self._grpc_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", self.max_request_bytes),
                     ("grpc.max_send_message_length", UNLIMITED),
                     ("grpc.so_reuseport", 0)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.store), self._grpc_server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.store), self._grpc_server)
        try:
            self.grpc_port = self._grpc_server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:
            self.grpc_port = 0
        if not self.grpc_port:
            raise OSError(f"--port {self.port}: cannot bind {self.host}:{self.port}")
        self._grpc_server.start()
        if self.rest_port is not None:
            self._rest_server = RestServer((self.host, self.rest_port), self.store,
                                           self.max_request_bytes)
            self.rest_port = self._rest_server.server_address[1]
            self._rest_thread = threading.Thread(target=self._rest_server.serve_forever,
                                                 name="rest", daemon=True)
            self._rest_thread.start()
        if self.poll_seconds > 0:
            self.store.start_polling(self.poll_seconds)
        logger.info("serving %s versions %s from %s: gRPC %s:%s, REST %s", self.name,
                    self.store.versions(), self.store.base_path, self.host, self.grpc_port,
                    self.rest_port)
        return self

    def wait(self) -> None:
        """Blocks until the server stops (Ctrl-C stops it)."""
        try:
            self._grpc_server.wait_for_termination()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Stops polling and both listeners; requests in flight get `grace_seconds`."""
        self.store.stop_polling()
        if self._rest_server is not None:
            self._rest_server.shutdown()
            self._rest_server.server_close()
            self._rest_server = None
        if self._grpc_server is not None:
            self._grpc_server.stop(grace_seconds).wait()
            self._grpc_server = None

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
