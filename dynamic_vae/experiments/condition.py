"""One condition of an experiment: a configuration to train, evaluate and tabulate."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dynamic_vae.config import RunConfig


@dataclasses.dataclass
class Condition:
    """A run of an experiment.

    Args:
        name: the run directory's name inside the experiment's output directory.
        config: what to train.
        frames: the training frames, one array or a list of sequences (`None`: the
            counting-MNIST sequence of `config`).
        frames_source: where `frames` came from, for config.json (a file path lets
            `dynamic-vae evaluate` re-read them).
        labels: values the family's table row and `extra_metrics` use for this condition
            (e.g. the cycle; an object's true views).
        evaluate_options: `evaluate_run` arguments of this condition alone, over the family's
            (e.g. `frames` when the training frames are a list of sequences, or the
            `heldout_frames` of this object).

    Example:
    >>> Condition("cycle-1234", get_preset("counting-mnist"), labels={"cycle": "1234"})
    ... # doctest: +SKIP
    """

    name: str
    config: RunConfig
    frames: np.ndarray | None = None
    frames_source: str | None = None
    labels: dict[str, Any] = dataclasses.field(default_factory=dict)
    evaluate_options: dict[str, Any] = dataclasses.field(default_factory=dict)
