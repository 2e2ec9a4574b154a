"""Counting MNIST: one model per digit cycle, judged by transition accuracy."""

from __future__ import annotations

import argparse
from typing import Any

from dynamic_vae.config import get_preset
from dynamic_vae.data.counting_mnist import parse_cycle
from dynamic_vae.experiments.condition import Condition
from dynamic_vae.experiments.experiment_family import ExperimentFamily

DEFAULT_CYCLES = "1234,6789,56789,0123456789"


class CountingExperiment(ExperimentFamily):
    """Trains the counting preset on each cycle; the table compares the Dynamic VAE's
    transition accuracy with the linear baseline's.

    Example:
    >>> dynamic-vae experiment counting --cycles 1234,56789 --output runs/counting
    ... # doctest: +SKIP
    """

    name = "counting"
    help = "one model per counting-MNIST digit cycle: digit order, DVAE vs linear baseline"
    default_preset = "counting-mnist"
    columns = (
        ("cycle", "cycle", ""),
        ("transition_accuracy_dvae", "transition accuracy DVAE", ".3f"),
        ("transition_accuracy_dvae_test_pair", "transition accuracy DVAE, x_0 from the test pair",
         ".3f"),
        ("transition_accuracy_lds", "transition accuracy LDS", ".3f"),
        ("legibility_dvae", "legibility DVAE", ".3f"),
        ("legibility_lds", "legibility LDS", ".3f"),
        ("stationarity_residual", "stationarity residual", ".4f"),
        ("spectral_radius", "spectral radius", ".3f"),
        ("train_seconds", "training wall time (s)", ".0f"),
        ("wall_seconds", "total wall time (s)", ".0f"),
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cycles", default=DEFAULT_CYCLES,
                            help=f"comma-separated digit cycles (default {DEFAULT_CYCLES})")
        parser.add_argument("--num-frames", type=int, default=None,
                            help="frames per counting sequence (default: the preset's)")

    def conditions(self, args: argparse.Namespace) -> list[Condition]:
        cycles = [c.strip() for c in str(args.cycles).split(",") if c.strip()]
        if not cycles:
            raise ValueError(f"--cycles: expected comma-separated cycles such as 1234,6789, "
                             f"got {args.cycles!r}")
        for cycle in cycles:
            parse_cycle(cycle)
        if len(set(cycles)) != len(cycles):
            raise ValueError(f"--cycles: each cycle may appear once, got {args.cycles!r}")
        base = get_preset(args.preset)
        return [Condition(name=f"cycle-{cycle}",
                          config=base.override(cycle=cycle, epochs=args.epochs,
                                               num_frames=args.num_frames),
                          labels={"cycle": cycle})
                for cycle in cycles]

    def row(self, condition: Condition, summary: dict[str, Any],
            metrics: dict[str, Any]) -> dict[str, Any]:
        digits = metrics["digits"]
        lds = digits.get("linear_baseline", {})
        return {
            "cycle": condition.labels["cycle"],
            "transition_accuracy_dvae": digits["dynamic_vae"]["transition_accuracy"],
            "transition_accuracy_dvae_test_pair": digits.get("dynamic_vae_test_pair", {}).get(
                "transition_accuracy"),
            "transition_accuracy_lds": lds.get("transition_accuracy"),
            "legibility_dvae": digits["dynamic_vae"]["legible_fraction"],
            "legibility_lds": lds.get("legible_fraction"),
            "stationarity_residual": summary["spectrum"]["stationarity_residual"],
            "spectral_radius": summary["spectrum"]["spectral_radius"],
        }
