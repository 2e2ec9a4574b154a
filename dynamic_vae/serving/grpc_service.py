"""TF Serving's gRPC services (PredictionService.Predict / GetModelMetadata and
ModelService.GetModelStatus) over a `ModelStore`, with the official tensorflow-serving-api
stubs, so any TF Serving client works unchanged."""

from __future__ import annotations

import logging

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.serving_error import ServingError, invalid_argument, not_found

logger = logging.getLogger(__name__)

SIGNATURE_DEF_FIELD = "signature_def"


def resolve_servable(store: ModelStore, model_spec) -> Servable:
    """The servable a request's ModelSpec names: its model, and the pinned version if any."""
    if model_spec.name != store.name:
        raise not_found(f"Servable not found for request: model {model_spec.name!r} (this "
                        f"server serves {store.name!r})")
    if model_spec.HasField("version"):
        return store.get(int(model_spec.version.value))
    if model_spec.version_label:
        raise invalid_argument(f"Unrecognized servable version label: "
                               f"{model_spec.version_label!r} (no labels are configured)")
    return store.get()


def tensor_proto_to_array(name: str, proto) -> np.ndarray:
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # noqa: BLE001 - any malformed TensorProto is the client's
        raise invalid_argument(f"input {name!r}: not a valid TensorProto ({error})") from None


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference are UNIMPLEMENTED
    (the base class answers them), as for a SavedModel without those signature types."""

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


def signature_def_map(servable: Servable) -> get_model_metadata_pb2.SignatureDefMap:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in servable.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature)
    return signature_map


def model_status(store: ModelStore, model_spec) -> get_model_status_pb2.GetModelStatusResponse:
    """The status of every version (or of the pinned one) of the store's model."""
    if model_spec.name != store.name:
        raise not_found(f"Could not find any versions of model {model_spec.name!r}")
    statuses = store.statuses()
    if model_spec.HasField("version"):
        statuses = [s for s in statuses if s.version == model_spec.version.value]
        if not statuses:
            raise not_found(f"Could not find version {model_spec.version.value} of model "
                            f"{store.name!r}")
    elif not statuses:
        raise not_found(f"Could not find any versions of model {store.name!r}")
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
        if status.error:
            entry.status.error_code = 13  # tensorflow.error.INTERNAL: the load failed
            entry.status.error_message = status.error
    return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus; HandleReloadConfigRequest is UNIMPLEMENTED (one model per server)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            return model_status(self.store, request.model_spec)
        except ServingError as error:
            context.abort(error.code, error.message)
