"""One loaded SavedModel version and the checked execution of its signatures.

A version is loaded as TF Serving loads it (`GraphModel`: MetaGraph, restore op, tensor
names), not through `tf.saved_model.load`, so the embedded server serves exactly the versions
that TF Serving can serve, and fails to load the ones it cannot.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf

from dynamic_vae.serving.serving_error import ServingError, invalid_argument
from dynamic_vae.serving.graph_model import GraphModel

DEFAULT_SIGNATURE = "serving_default"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
MAX_WARMUP_REQUESTS = 1000  # TF Serving's limit
# Inputs that set how many frames a signature generates (generate's, forecast's).
FRAME_COUNT_INPUTS = ("num_frames", "num_steps")


class Servable:
    """A SavedModel version loaded for serving.

    Signatures run concurrently from many threads; a request holds its own reference to the
    servable, so a newer version can replace it in the model store while it runs.

    Args:
        path: the version folder (`.../NAME/<version>`).
        version: its integer version.
        max_frames: optional server-side cap on any input named `num_frames` or `num_steps`,
            on top of the export's own bound.
        max_batch: optional cap on the batch (first) dimension of batched inputs (encode's
            frame pairs, decode's latents), so one request cannot ask for unbounded memory.

    Example:
    >>> servable = Servable("saved_models/counting/1", 1)
    >>> outputs = servable.run("generate", {"num_frames": np.int32(8), "seed": np.int64(3)})
    """

    def __init__(self, path: str | Path, version: int, max_frames: int | None = None,
                 max_batch: int | None = None) -> None:
        self.path = Path(path)
        self.version = int(version)
        self.max_frames = max_frames
        self.max_batch = max_batch
        self._model = GraphModel(self.path)
        self.input_specs = self._model.input_specs
        self.output_names = self._model.output_names
        self.signature_defs = self._model.signature_defs
        self.warmup_requests = self._warm_up()

    def _warm_up(self) -> int:
        """Replays `assets.extra/tf_serving_warmup_requests` as TF Serving does, so the
        graph's first run happens before the version is swapped in. Returns the count."""
        path = self.path / WARMUP_FILE
        if not path.is_file():
            return 0
        from tensorflow_serving.apis import prediction_log_pb2

        count = 0
        for record in tf.data.TFRecordDataset(str(path)).take(MAX_WARMUP_REQUESTS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                continue
            request = log.predict_log.request
            # The export's own bounds hold; this server's --max-frames cap is for clients.
            self.run(request.model_spec.signature_name,
                     {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()},
                     server_limits=False)
            count += 1
        return count

    def input_spec(self, signature_name: str) -> dict[str, tf.TensorSpec]:
        return self.input_specs[self.check_signature(signature_name)]

    def check_signature(self, signature_name: str) -> str:
        signature_name = signature_name or DEFAULT_SIGNATURE
        if signature_name not in self.signature_defs:
            raise invalid_argument(
                f"signature_name {signature_name!r} not found; this model has "
                f"{sorted(self.signature_defs)}")
        return signature_name

    def run(self, signature_name: str, inputs: dict[str, np.ndarray],
            output_filter: list[str] | tuple[str, ...] = (),
            server_limits: bool = True) -> dict[str, np.ndarray]:
        """Runs a signature on checked inputs and returns its named outputs as arrays.

        Raises:
            ServingError: INVALID_ARGUMENT for an unknown signature or output, missing or
                extra inputs, a wrong dtype or shape, num_frames out of bounds, or any
                InvalidArgument the graph raises; RESOURCE_EXHAUSTED when out of memory.
        """
        signature_name = self.check_signature(signature_name)
        specs = self.input_specs[signature_name]
        missing = sorted(set(specs) - set(inputs))
        extra = sorted(set(inputs) - set(specs))
        if missing or extra:
            raise invalid_argument(
                f"signature {signature_name!r} takes inputs {sorted(specs)}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unknown {extra}" if extra else ""))
        unknown_outputs = sorted(set(output_filter) - set(self.output_names[signature_name]))
        if unknown_outputs:
            raise invalid_argument(
                f"output_filter {unknown_outputs} not among the outputs of signature "
                f"{signature_name!r}: {self.output_names[signature_name]}")
        tensors = {}
        for name, spec in specs.items():
            value = np.asarray(inputs[name])
            if value.dtype != spec.dtype.as_numpy_dtype:
                raise invalid_argument(
                    f"input {name!r} of signature {signature_name!r}: expected dtype "
                    f"{spec.dtype.name}, got {value.dtype.name}")
            if not spec.shape.is_compatible_with(value.shape):
                raise invalid_argument(
                    f"input {name!r} of signature {signature_name!r}: expected shape "
                    f"{_shape_text(spec.shape)}, got {list(value.shape)}")
            if (server_limits and self.max_batch is not None and spec.shape.rank
                    and spec.shape[0] is None and value.shape[0] > self.max_batch):
                raise invalid_argument(
                    f"input {name!r}: batch of {value.shape[0]} exceeds this server's limit of "
                    f"{self.max_batch} (--max-batch); split the request")
            if name in FRAME_COUNT_INPUTS and server_limits and self.max_frames is not None:
                if np.any(value > self.max_frames) or np.any(value < 1):
                    raise invalid_argument(
                        f"input {name!r}: must lie in [1, {self.max_frames}] on this "
                        f"server, got {value.tolist()}")
            tensors[name] = value
        try:
            return self._model.run(signature_name, tensors, output_filter)
        except tf.errors.InvalidArgumentError as error:
            raise invalid_argument(_first_line(error.message)) from None
        except tf.errors.ResourceExhaustedError as error:
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               _first_line(error.message)) from None


def _shape_text(shape: tf.TensorShape) -> str:
    if shape.rank is None:
        return "(any)"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"


def _first_line(message: str) -> str:
    # Graph errors carry the assertion text after "assertion failed:"; keep what a client
    # can act on, not the stack of node names.
    if "assertion failed:" in message:
        message = message[message.index("assertion failed:"):]
    return message.strip().splitlines()[0] if message.strip() else "invalid argument"
