"""A SavedModel version loaded by TensorFlow's C++ `LoadSavedModel`, through the C API.

`tensorflow_model_server` loads each version with the C++ `LoadSavedModel`. The TensorFlow
pip wheel exports TensorFlow's C API from `tensorflow/libtensorflow_cc.so.2`, and its
`TF_LoadSessionFromSavedModel` calls that same C++ function. `CApiModel` loads a version
with it (through `ctypes`, no compiler needed) and runs signatures with `TF_SessionRun` by
the tensor names of their `SignatureDef`s, so a version it runs is one the C++ loader of
TF Serving accepts, without installing `tensorflow_model_server`.

`GraphModel` (`tf.compat.v1.saved_model.loader.load`) imitates the same loader in Python;
this module calls the C++ one itself.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from dynamic_vae.serving.graph_model import signature_tables

SERVE_TAG = "serve"
LIBRARY_NAME = "libtensorflow_cc.so.2"
# TF_DataType values are the DataType enum of types.proto; these two need special handling.
_TF_STRING = 7
_TF_RESOURCE = 20
# sizeof(TF_TString) (tensorflow/core/platform/ctstring_internal.h): every string element of
# a TF_STRING tensor is one of these 24-byte structs.
_TSTRING_BYTES = 24


class _Buffer(ctypes.Structure):
    """`TF_Buffer` (tensorflow/c/tf_buffer.h)."""
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t),
                ("data_deallocator", ctypes.c_void_p)]


class _Output(ctypes.Structure):
    """`TF_Output` (tensorflow/c/c_api.h): an operation and the index of one of its outputs."""
    _fields_ = [("oper", ctypes.c_void_p), ("index", ctypes.c_int)]


# Every function used, with its C signature. Declaring them all matters: ctypes' default
# return type is a 32-bit int, which would cut 64-bit pointers in half.
_P = ctypes.c_void_p
_FUNCTIONS: dict[str, tuple[object, list[object]]] = {
    "TF_NewStatus": (_P, []),
    "TF_DeleteStatus": (None, [_P]),
    "TF_GetCode": (ctypes.c_int, [_P]),
    "TF_Message": (ctypes.c_char_p, [_P]),
    "TF_NewGraph": (_P, []),
    "TF_DeleteGraph": (None, [_P]),
    "TF_NewSessionOptions": (_P, []),
    "TF_DeleteSessionOptions": (None, [_P]),
    "TF_NewBuffer": (ctypes.POINTER(_Buffer), []),
    "TF_DeleteBuffer": (None, [ctypes.POINTER(_Buffer)]),
    "TF_LoadSessionFromSavedModel": (_P, [
        _P, ctypes.POINTER(_Buffer), ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int, _P, ctypes.POINTER(_Buffer), _P]),
    "TF_CloseSession": (None, [_P, _P]),
    "TF_DeleteSession": (None, [_P, _P]),
    "TF_GraphOperationByName": (_P, [_P, ctypes.c_char_p]),
    "TF_OperationNumOutputs": (ctypes.c_int, [_P]),
    "TF_SessionRun": (None, [
        _P, ctypes.POINTER(_Buffer),
        ctypes.POINTER(_Output), ctypes.POINTER(_P), ctypes.c_int,
        ctypes.POINTER(_Output), ctypes.POINTER(_P), ctypes.c_int,
        ctypes.POINTER(_P), ctypes.c_int,
        ctypes.POINTER(_Buffer), _P]),
    "TF_AllocateTensor": (_P, [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                               ctypes.c_size_t]),
    "TF_DeleteTensor": (None, [_P]),
    "TF_TensorType": (ctypes.c_int, [_P]),
    "TF_NumDims": (ctypes.c_int, [_P]),
    "TF_Dim": (ctypes.c_int64, [_P, ctypes.c_int]),
    "TF_TensorByteSize": (ctypes.c_size_t, [_P]),
    "TF_TensorData": (_P, [_P]),
    "TF_StringInit": (None, [_P]),
    "TF_StringCopy": (None, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "TF_StringGetDataPointer": (_P, [_P]),
    "TF_StringGetSize": (ctypes.c_size_t, [_P]),
}

# TF_Code (tensorflow/c/tf_status.h) -> the exception tf.compat.v1 sessions raise for it.
_ERRORS: dict[int, type[tf.errors.OpError]] = {
    tf.errors.CANCELLED: tf.errors.CancelledError, tf.errors.UNKNOWN: tf.errors.UnknownError,
    tf.errors.INVALID_ARGUMENT: tf.errors.InvalidArgumentError,
    tf.errors.DEADLINE_EXCEEDED: tf.errors.DeadlineExceededError,
    tf.errors.NOT_FOUND: tf.errors.NotFoundError,
    tf.errors.ALREADY_EXISTS: tf.errors.AlreadyExistsError,
    tf.errors.PERMISSION_DENIED: tf.errors.PermissionDeniedError,
    tf.errors.RESOURCE_EXHAUSTED: tf.errors.ResourceExhaustedError,
    tf.errors.FAILED_PRECONDITION: tf.errors.FailedPreconditionError,
    tf.errors.ABORTED: tf.errors.AbortedError, tf.errors.OUT_OF_RANGE: tf.errors.OutOfRangeError,
    tf.errors.UNIMPLEMENTED: tf.errors.UnimplementedError,
    tf.errors.INTERNAL: tf.errors.InternalError, tf.errors.UNAVAILABLE: tf.errors.UnavailableError,
    tf.errors.DATA_LOSS: tf.errors.DataLossError,
    tf.errors.UNAUTHENTICATED: tf.errors.UnauthenticatedError,
}


@functools.cache
def c_library(path: str | Path | None = None) -> ctypes.CDLL:
    """TensorFlow's C API from the installed wheel, with every function's types declared.

    Args:
        path: the shared library (default: `libtensorflow_cc.so.2` in the `tensorflow`
            package folder, the library the Python package itself runs on).

    Returns:
        The loaded library.

    Raises:
        FileNotFoundError: the library is not there (a TensorFlow build without it).

    Example:
    >>> c_library().TF_NewStatus()   # doctest: +SKIP
    """
    path = Path(path) if path is not None else Path(tf.sysconfig.get_lib()) / LIBRARY_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: TensorFlow's C API library not found (expected the "
                                f"{LIBRARY_NAME} of the installed tensorflow wheel)")
    library = ctypes.CDLL(str(path))
    for name, (restype, argtypes) in _FUNCTIONS.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
    return library


class _Status:
    """A `TF_Status` that raises the matching `tf.errors` exception when it holds an error."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library
        self.pointer = library.TF_NewStatus()

    def check(self, context: str) -> None:
        code = self._library.TF_GetCode(self.pointer)
        if code != tf.errors.OK:
            message = self._library.TF_Message(self.pointer).decode("utf-8", "replace")
            raise _ERRORS.get(code, tf.errors.UnknownError)(None, None, f"{context}: {message}")

    def delete(self) -> None:
        self._library.TF_DeleteStatus(self.pointer)


class CApiModel:
    """The `serve` MetaGraph of a SavedModel, loaded and run by TensorFlow's C++ runtime.

    Same interface as `GraphModel`: `signature_defs`, `input_specs`, `output_names`, `run`
    and `close`; also a context manager. Inputs must already have the dtype the SignatureDef
    declares (nothing is cast, as TF Serving casts nothing).

    Args:
        path: a SavedModel folder (`.../NAME/<version>`).
        tags: the MetaGraph's tags.
        library: TensorFlow's C API (default: `c_library()`).

    Raises:
        tf.errors.OpError: what `LoadSavedModel` reports (NotFoundError for a missing folder
            or tag, FailedPreconditionError for a variable the restore op never sets, ...).

    Example:
    >>> with CApiModel("saved_models/counting/1") as model:   # doctest: +SKIP
    ...     model.run("generate", {"num_frames": np.int32(8), "seed": np.int64(3)})["frames"].shape
    (8, 32, 32, 1)

    Reference:
    - `TF_LoadSessionFromSavedModel` and `TF_SessionRun` in tensorflow/c/c_api.h.
    """

    def __init__(self, path: str | Path, tags: tuple[str, ...] = (SERVE_TAG,),
                 library: ctypes.CDLL | None = None) -> None:
        self.path = Path(path)
        self._library = library if library is not None else c_library()
        lib = self._library
        self._session = None
        self._graph = lib.TF_NewGraph()
        status = _Status(lib)
        options = lib.TF_NewSessionOptions()
        meta_graph_buffer = lib.TF_NewBuffer()
        try:
            tag_array = (ctypes.c_char_p * len(tags))(*(t.encode() for t in tags))
            self._session = lib.TF_LoadSessionFromSavedModel(
                options, None, str(self.path).encode(), tag_array, len(tags), self._graph,
                meta_graph_buffer, status.pointer)
            status.check(f"{self.path}: LoadSavedModel")
            buffer = meta_graph_buffer.contents
            meta_graph = meta_graph_pb2.MetaGraphDef.FromString(
                ctypes.string_at(buffer.data, buffer.length))
        except BaseException:
            self.close()
            raise
        finally:
            lib.TF_DeleteBuffer(meta_graph_buffer)
            lib.TF_DeleteSessionOptions(options)
            status.delete()
        self.meta_graph = meta_graph
        self.signature_defs, self.input_specs, self.output_names = signature_tables(meta_graph)

    def __enter__(self) -> CApiModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, signature_name: str, inputs: dict[str, np.ndarray],
            output_names: list[str] | tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Runs one signature with `TF_SessionRun`, feeding and fetching by tensor name.

        Args:
            signature_name: a key of `signature_defs`.
            inputs: an array for every input of the signature, of the dtype its
                `TensorInfo` declares (bytes or str for string inputs).
            output_names: the outputs to fetch (default: all).

        Returns:
            The named outputs as numpy arrays (object arrays of bytes for strings).

        Raises:
            KeyError: unknown signature, or an input or output the signature lacks.
            ValueError: a missing input, or an input of another dtype than declared.
            tf.errors.OpError: what the graph raises (InvalidArgumentError for failed checks).
        """
        if self._session is None:
            raise ValueError(f"{self.path}: the model is closed")
        if signature_name not in self.signature_defs:
            raise KeyError(f"{self.path}: no signature {signature_name!r}; it has "
                           f"{sorted(self.signature_defs)}")
        signature = self.signature_defs[signature_name]
        unknown = sorted(set(inputs) - set(signature.inputs))
        missing = sorted(set(signature.inputs) - set(inputs))
        if unknown:
            raise KeyError(f"signature {signature_name!r} has no input(s) {unknown}; it takes "
                           f"{sorted(signature.inputs)}")
        if missing:
            raise ValueError(f"signature {signature_name!r}: missing input(s) {missing}")
        names = list(output_names) or sorted(signature.outputs)
        absent = sorted(set(names) - set(signature.outputs))
        if absent:
            raise KeyError(f"signature {signature_name!r} has no output(s) {absent}; it has "
                           f"{sorted(signature.outputs)}")
        lib = self._library
        feeds = sorted(inputs)
        input_ports = (_Output * max(len(feeds), 1))()
        input_tensors = (_P * max(len(feeds), 1))()
        output_ports = (_Output * len(names))()
        output_tensors = (_P * len(names))()
        status = _Status(lib)
        try:
            for i, key in enumerate(feeds):
                info = signature.inputs[key]
                input_ports[i] = self._port(info.name)
                input_tensors[i] = _to_tensor(lib, inputs[key], info.dtype,
                                              f"signature {signature_name!r} input {key!r}")
            for i, key in enumerate(names):
                output_ports[i] = self._port(signature.outputs[key].name)
            lib.TF_SessionRun(self._session, None, input_ports, input_tensors, len(feeds),
                              output_ports, output_tensors, len(names), None, 0, None,
                              status.pointer)
            status.check(f"signature {signature_name!r}")
            return {key: _to_array(lib, output_tensors[i]) for i, key in enumerate(names)}
        finally:
            # TF_SessionRun leaves the outputs null when it fails; the inputs stay ours.
            for tensor in (*input_tensors, *output_tensors):
                if tensor:
                    lib.TF_DeleteTensor(tensor)
            status.delete()

    def close(self) -> None:
        """Closes and deletes the session and the graph (idempotent)."""
        lib = self._library
        if self._session is not None:
            status = _Status(lib)
            try:
                lib.TF_CloseSession(self._session, status.pointer)
                lib.TF_DeleteSession(self._session, status.pointer)
            finally:
                status.delete()
            self._session = None
        if self._graph is not None:
            lib.TF_DeleteGraph(self._graph)
            self._graph = None

    def _port(self, tensor_name: str) -> _Output:
        """`op_name:index` -> the graph's TF_Output."""
        op_name, _, index = tensor_name.rpartition(":")
        if not op_name or not index.isdigit():
            op_name, index = tensor_name, "0"
        operation = self._library.TF_GraphOperationByName(self._graph, op_name.encode())
        if not operation:
            raise KeyError(f"{self.path}: the SignatureDef names {tensor_name!r}, which is "
                           "not in the loaded graph")
        if int(index) >= self._library.TF_OperationNumOutputs(operation):
            raise KeyError(f"{self.path}: {tensor_name!r}: operation {op_name!r} has only "
                           f"{self._library.TF_OperationNumOutputs(operation)} output(s)")
        return _Output(operation, int(index))


def _to_tensor(lib: ctypes.CDLL, value: object, dtype_enum: int, what: str) -> int:
    """A new TF_Tensor (the caller deletes it) holding `value`, of the declared dtype."""
    expected = tf.as_dtype(dtype_enum)
    if dtype_enum == _TF_STRING:
        array = np.asarray(value, dtype=object)
        items = [item.encode() if isinstance(item, str) else item for item in array.ravel()]
        if not all(isinstance(item, bytes) for item in items):
            raise ValueError(f"{what}: expected bytes or str for a string input, got "
                             f"{sorted({type(i).__name__ for i in items})}")
        dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        tensor = lib.TF_AllocateTensor(_TF_STRING, dims, array.ndim,
                                       _TSTRING_BYTES * len(items))
        data = lib.TF_TensorData(tensor)
        # Every element is initialised before anything can fail, so TF_DeleteTensor, which
        # frees each element's string, never reads uninitialised memory.
        for i in range(len(items)):
            lib.TF_StringInit(data + i * _TSTRING_BYTES)
        for i, item in enumerate(items):
            lib.TF_StringCopy(data + i * _TSTRING_BYTES, item, len(item))
        return tensor
    if dtype_enum == _TF_RESOURCE or expected.as_numpy_dtype is object:
        raise ValueError(f"{what}: inputs of dtype {expected.name} are not supported")
    array = np.asarray(value)
    if array.dtype != np.dtype(expected.as_numpy_dtype):
        raise ValueError(f"{what}: expected dtype {expected.name}, got {array.dtype}")
    # Not np.ascontiguousarray: it turns a scalar into shape (1,).
    array = array if array.flags.c_contiguous else array.copy(order="C")
    dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    tensor = lib.TF_AllocateTensor(dtype_enum, dims, array.ndim, array.nbytes)
    if array.nbytes:
        ctypes.memmove(lib.TF_TensorData(tensor), array.ctypes.data, array.nbytes)
    return tensor


def _to_array(lib: ctypes.CDLL, tensor: int) -> np.ndarray:
    """A numpy copy of a TF_Tensor's contents (the tensor stays the caller's to delete)."""
    dtype_enum = lib.TF_TensorType(tensor)
    shape = tuple(lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor)))
    count = int(np.prod(shape, dtype=np.int64))
    data = lib.TF_TensorData(tensor)
    if dtype_enum == _TF_STRING:
        items = [ctypes.string_at(lib.TF_StringGetDataPointer(data + i * _TSTRING_BYTES),
                                  lib.TF_StringGetSize(data + i * _TSTRING_BYTES))
                 for i in range(count)]
        return np.array(items, dtype=object).reshape(shape)
    dtype = np.dtype(tf.as_dtype(dtype_enum).as_numpy_dtype)
    size = lib.TF_TensorByteSize(tensor)
    if size != count * dtype.itemsize:
        raise ValueError(f"a {tf.as_dtype(dtype_enum).name} output of shape {shape} holds "
                         f"{size} bytes, expected {count * dtype.itemsize}")
    raw = ctypes.string_at(data, size) if size else b""
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
