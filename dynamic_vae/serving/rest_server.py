"""TF Serving's REST API over a `ModelStore`:

    GET  /v1/models/NAME[/versions/V]             model status
    GET  /v1/models/NAME[/versions/V]/metadata    signature defs
    POST /v1/models/NAME[/versions/V]:predict     {"signature_name": ..., "instances": [...]}
                                                  or {"signature_name": ..., "inputs": {...}}

The row ("instances") format stacks the instances along a new first axis and answers with
"predictions"; the columnar ("inputs") format passes tensors as they are and answers with
"outputs". Signatures with scalar inputs (generate) need the columnar format, as on TF Serving.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from dynamic_vae.serving.model_spec import model_status, resolve_servable, signature_def_map
from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.serving_error import ServingError, invalid_argument, not_found

logger = logging.getLogger(__name__)

PATH_PATTERN = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<action>:predict|/metadata)?$")


def _model_spec(name: str, version: str | None, label: str | None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        if not version.isdigit():
            raise invalid_argument(f"version in the URL must be an integer, got {version!r}")
        spec.version.value = int(version)
    if label is not None:
        spec.version_label = label
    return spec


def _to_array(name: str, value: Any, spec) -> np.ndarray:
    """A JSON value as an array of the input's dtype, refusing lossy conversions."""
    dtype = np.dtype(spec.dtype.as_numpy_dtype)
    try:
        raw = np.asarray(value)
    except ValueError as error:
        raise invalid_argument(f"input {name!r}: ragged or malformed list ({error})") from None
    if raw.dtype == object or raw.dtype.kind in "US":
        raise invalid_argument(f"input {name!r}: expected numbers of dtype {dtype.name}, got "
                               f"{raw.dtype.name} values")
    if dtype.kind in "iu":
        if raw.dtype.kind not in "iub":
            raise invalid_argument(f"input {name!r}: expected integers ({dtype.name}), got "
                                   f"{raw.dtype.name} values")
        info = np.iinfo(dtype)
        if raw.size and (raw.min() < info.min or raw.max() > info.max):
            raise invalid_argument(f"input {name!r}: values must lie in [{info.min}, "
                                   f"{info.max}] for {dtype.name}, got [{raw.min()}, "
                                   f"{raw.max()}]")
    return raw.astype(dtype)


def parse_predict_body(body: Any, servable: Servable) -> tuple[str, dict, bool]:
    """`(signature_name, inputs, row_format)` from a predict request's JSON."""
    if not isinstance(body, dict):
        raise invalid_argument("request body must be a JSON object with 'instances' or "
                               "'inputs'")
    signature_name = servable.check_signature(body.get("signature_name") or "")
    specs = servable.input_spec(signature_name)
    if ("instances" in body) == ("inputs" in body):
        raise invalid_argument("request body must have exactly one of 'instances' (row "
                               "format) or 'inputs' (columnar format)")
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and (len(specs) != 1 or set(inputs) == set(specs)):
            named = inputs
        elif len(specs) == 1:
            named = {next(iter(specs)): inputs}  # a single input may be given bare
        else:
            raise invalid_argument(f"'inputs' must be an object with keys {sorted(specs)}")
        # Unknown names pass through unconverted: Servable.run reports them.
        return signature_name, {k: _to_array(k, v, specs[k]) if k in specs else v
                                for k, v in named.items()}, False
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise invalid_argument("'instances' must be a non-empty list")
    if all(isinstance(i, dict) for i in instances):
        keys = set(instances[0])
        if any(set(i) != keys for i in instances):
            raise invalid_argument("every instance must have the same named inputs")
        columns = {k: [i[k] for i in instances] for k in keys}
    elif len(specs) == 1:
        columns = {next(iter(specs)): instances}
    else:
        raise invalid_argument(f"signature {signature_name!r} takes inputs {sorted(specs)}: "
                               "each instance must be an object with those keys")
    return signature_name, {k: _to_array(k, v, specs[k]) if k in specs else v
                            for k, v in columns.items()}, True


def format_predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    if not row_format:
        values = {k: v.tolist() for k, v in outputs.items()}
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    sizes = {v.shape[0] if v.ndim else None for v in outputs.values()}
    if len(sizes) != 1 or None in sizes:
        raise invalid_argument("outputs do not share a batch dimension; use the columnar "
                               "'inputs' format for this signature")
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    size = sizes.pop()
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()}
                            for i in range(size)]}


def status_json(response) -> dict:
    """GetModelStatusResponse as TF Serving's REST API prints it (defaults included)."""
    return {"model_version_status": [
        {"version": str(s.version),
         "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
         "status": {"error_code": "OK" if not s.status.error_code else "INTERNAL",
                    "error_message": s.status.error_message}}
        for s in response.model_version_status]}


class _RestHandler(BaseHTTPRequestHandler):
    """One HTTP request; the server's `store` and `max_request_bytes` are on `self.server`."""

    protocol_version = "HTTP/1.1"
    server_version = "dynamic-vae-serving"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        logger.debug("%s - %s", self.address_string(), format % args)

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[model_pb2.ModelSpec, str | None]:
        match = PATH_PATTERN.match(self.path.split("?")[0])
        if not match:
            raise not_found(f"Malformed request: {self.command} {self.path}")
        spec = _model_spec(match["name"], match["version"], match["label"])
        return spec, match["action"]

    def _handle(self, method: str) -> None:
        try:
            spec, action = self._route()
            store: ModelStore = self.server.store
            if method == "GET" and action is None:
                payload = status_json(model_status(store, spec))
            elif method == "GET" and action == "/metadata":
                servable = resolve_servable(store, spec)
                payload = {
                    "model_spec": {"name": store.name, "signature_name": "",
                                   "version": str(servable.version)},
                    "metadata": {"signature_def": json_format.MessageToDict(
                        signature_def_map(servable), preserving_proto_field_name=True)}}
            elif method == "POST" and action == ":predict":
                payload = self._predict(store, spec)
            else:
                raise not_found(f"Malformed request: {method} {self.path}")
            self._reply(HTTPStatus.OK, payload)
        except ServingError as error:
            self._reply(error.http_status, {"error": error.message})
        except Exception as error:  # noqa: BLE001 - report, keep serving
            logger.exception("REST request failed")
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: "
                                                                    f"{error}"})

    def _predict(self, store: ModelStore, spec: model_pb2.ModelSpec) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise invalid_argument("request needs a valid Content-Length header")
        limit = self.server.max_request_bytes
        if length > limit:
            self._discard_body(length)
            raise invalid_argument(f"request body of {length} bytes exceeds the limit of "
                                   f"{limit} bytes (--max-request-bytes)")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise invalid_argument(f"request body is not valid JSON ({error})") from None
        servable = resolve_servable(store, spec)
        signature_name, inputs, row_format = parse_predict_body(body, servable)
        outputs = servable.run(signature_name, inputs)
        return format_predict_response(outputs, row_format)

    def _discard_body(self, length: int) -> None:
        """Reads and drops an oversized body, so the client (still sending) gets the 400
        instead of a reset connection; beyond 16x the limit the connection is just closed."""
        self.close_connection = True
        if length > 16 * self.server.max_request_bytes:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def do_GET(self) -> None:  # noqa: N802 - the http.server method name
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class RestServer(ThreadingHTTPServer):
    """A threaded HTTP server answering TF Serving's REST API for one model store.

    Args:
        address: `(host, port)` to bind (port 0 picks a free one).
        store: the model's loaded versions.
        max_request_bytes: larger request bodies get 400 without being read.

    Example:
    >>> server = RestServer(("127.0.0.1", 8501), store, 16 << 20)
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: ModelStore,
                 max_request_bytes: int) -> None:
        super().__init__(address, _RestHandler)
        self.store = store
        self.max_request_bytes = max_request_bytes
