"""TF Serving's PredictionService (Predict, GetModelMetadata) over a `ModelStore`, registered
with the official tensorflow-serving-api stubs, so any TF Serving client works unchanged."""

from __future__ import annotations

import logging

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2,
                                     prediction_service_pb2_grpc)

from dynamic_vae.serving.model_spec import resolve_servable, signature_def_map
from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.serving_error import ServingError, invalid_argument

logger = logging.getLogger(__name__)

SIGNATURE_DEF_FIELD = "signature_def"


def tensor_proto_to_array(name: str, proto) -> np.ndarray:
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # noqa: BLE001 - any malformed TensorProto is the client's
        raise invalid_argument(f"input {name!r}: not a valid TensorProto ({error})") from None


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference are UNIMPLEMENTED
    (the base class answers them), as for a SavedModel without those signature types.

    Args:
        store: the model's loaded versions.

    Example:
    >>> server = grpc.server(futures.ThreadPoolExecutor(8))
    >>> prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
    ...     PredictionServicer(store), server)
    """

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def Predict(self, request, context):  # noqa: N802 - the gRPC method name
        try:
            servable = resolve_servable(self.store, request.model_spec)
            inputs = {name: tensor_proto_to_array(name, proto)
                      for name, proto in request.inputs.items()}
            outputs = servable.run(request.model_spec.signature_name, inputs,
                                   tuple(request.output_filter))
        except ServingError as error:
            context.abort(error.code, error.message)
        except Exception as error:  # noqa: BLE001 - report, keep serving
            logger.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = servable.check_signature(
            request.model_spec.signature_name)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            servable = resolve_servable(self.store, request.model_spec)
            fields = list(request.metadata_field)
            if not fields:
                raise invalid_argument("GetModelMetadataRequest must specify at least one "
                                       f"metadata_field; supported: [{SIGNATURE_DEF_FIELD!r}]")
            unsupported = [f for f in fields if f != SIGNATURE_DEF_FIELD]
            if unsupported:
                raise invalid_argument(f"Metadata field(s) {unsupported} not supported; "
                                       f"supported: [{SIGNATURE_DEF_FIELD!r}]")
        except ServingError as error:
            context.abort(error.code, error.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = servable.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_def_map(servable))
        return response
