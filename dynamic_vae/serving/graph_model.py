"""A SavedModel version loaded the way TensorFlow Serving loads it.

TF Serving's C++ `LoadSavedModel` does not restore through the Python object graph
(`tf.saved_model.load`). It imports the `serve` MetaGraph into a fresh graph (a `tf.compat.v1` graph runner), runs
the saver's restore op and the init op, and then runs each request by the tensor names of the
signature's `SignatureDef`. `saved_model_cli run` and `tf.compat.v1.saved_model.loader.load`
take the same path. A SavedModel can work on the Python path and fail on this one (a function
reading a variable that the restore op never initialises), so the embedded server serves
through this class: a version it can serve is one TF Serving can serve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

SERVE_TAG = "serve"


class GraphModel:
    """The `serve` MetaGraph of a SavedModel in its own graph, run as TF Serving runs it.

    Runs of the loaded graph are thread-safe, so one instance serves concurrent requests.

    Args:
        path: a SavedModel folder (`.../NAME/<version>`).

    Example:
    >>> model = GraphModel("saved_models/counting/1")
    >>> model.run("generate", {"num_frames": np.int32(8), "seed": np.int64(3)})["frames"].shape
    (8, 32, 32, 1)

    Reference:
    - TensorFlow Serving, `tensorflow_serving/servables/tensorflow/saved_model_bundle_factory`
      (the loader this mirrors), and `tf.compat.v1.saved_model.loader.load`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._runner = tf.compat.v1.Session(graph=self._graph)
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self._runner, [SERVE_TAG], str(self.path))
        self.signature_defs, self.input_specs, self.output_names = signature_tables(meta_graph)

    def run(self, signature_name: str, inputs: dict[str, np.ndarray],
            output_names: list[str] | tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Runs one signature by its SignatureDef's tensor names.

        Args:
            signature_name: a key of `signature_defs`.
            inputs: an array for every input of the signature (dtypes are the caller's to
                check; the graph casts nothing).
            output_names: the outputs to fetch (default: all).

        Returns:
            The named outputs as numpy arrays.

        Raises:
            KeyError: unknown signature, input or output name.
            tf.errors.OpError: what the graph raises (InvalidArgument for failed checks).
        """
        signature = self.signature_defs[signature_name]
        feeds = {signature.inputs[name].name: value for name, value in inputs.items()}
        names = list(output_names) or list(signature.outputs)
        fetches = {name: signature.outputs[name].name for name in names}
        return self._runner.run(fetches, feed_dict=feeds)

    def close(self) -> None:
        self._runner.close()


def signature_tables(meta_graph: meta_graph_pb2.MetaGraphDef
                     ) -> tuple[dict[str, meta_graph_pb2.SignatureDef],
                                dict[str, dict[str, tf.TensorSpec]], dict[str, list[str]]]:
    """A MetaGraphDef's callable signatures: `(signature_defs, input_specs, output_names)`.

    `__saved_model_init_op` and the like are left out: they are not signatures a client can
    call. Output names are sorted.

    Args:
        meta_graph: the MetaGraphDef a loader returned.
    """
    signature_defs = {name: signature for name, signature in meta_graph.signature_def.items()
                      if not name.startswith("__")}
    input_specs = {name: {key: _tensor_spec(info) for key, info in signature.inputs.items()}
                   for name, signature in signature_defs.items()}
    output_names = {name: sorted(signature.outputs)
                    for name, signature in signature_defs.items()}
    return signature_defs, input_specs, output_names


def _tensor_spec(info: meta_graph_pb2.TensorInfo) -> tf.TensorSpec:
    shape = (None if info.tensor_shape.unknown_rank
             else [None if d.size < 0 else d.size for d in info.tensor_shape.dim])
    return tf.TensorSpec(shape, tf.as_dtype(info.dtype))
