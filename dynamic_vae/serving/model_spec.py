"""What a request's ModelSpec resolves to, shared by the gRPC and REST front ends: the
servable (model name, pinned version), its signature defs, the status of its versions."""

from __future__ import annotations

from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.serving_error import invalid_argument, not_found


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
