"""Choosing a `tf.distribute` strategy for training by name.

`default` is one device; `mirrored` copies the model to every local GPU (or to the logical
CPU devices a test configures) and splits each global batch between them; `multiworker`
does the same over the machines listed in the `TF_CONFIG` environment variable. Batch sizes
in the config are always global: each of R replicas sees `batch_size / R` windows per step.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGIES`).

    Raises:
        ValueError: for an unknown name, or `multiworker` without a usable `TF_CONFIG`.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {name!r}")


def _check_tf_config(text: str | None) -> None:
    if not text:
        raise ValueError("--strategy multiworker: the TF_CONFIG environment variable is not "
                         "set; it must name the cluster's workers and this worker's task, e.g. "
                         '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                         '"task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG: expected JSON with cluster.worker (a list of host:port) "
                         f"and task.type/task.index, got {text!r} ({error})") from None
    if task.get("type") != "worker" or not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG: task {task} is not one of the {len(workers)} workers")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs: always, except on workers other than
    worker 0 of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker"
                                             and resolver.task_id == 0)
