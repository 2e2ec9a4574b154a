"""TF Serving's ModelService.GetModelStatus over a `ModelStore`."""

from __future__ import annotations

from tensorflow_serving.apis import model_service_pb2_grpc

from dynamic_vae.serving.model_spec import model_status
from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.serving_error import ServingError


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus; HandleReloadConfigRequest is UNIMPLEMENTED (one model per server).

    Args:
        store: the model's loaded versions.

    Example:
    >>> model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(store), server)
    """

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            return model_status(self.store, request.model_spec)
        except ServingError as error:
            context.abort(error.code, error.message)
