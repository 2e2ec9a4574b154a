"""What an experiment family (counting, textures, rotation, ...) has to say.

A family turns its command-line arguments into conditions and a finished condition into one
row of the results table (optionally with metrics of its own, `extra_metrics`); training,
evaluation, timing and writing the table are the runner's (`dynamic_vae.experiments.runner`). Adding a family is one module with a subclass,
registered in `dynamic_vae.experiments.FAMILIES`; it then appears as
`dynamic-vae experiment <name>`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dynamic_vae.experiments.condition import Condition


class ExperimentFamily:
    """Base class of experiment families.

    Attributes:
        name: the subcommand, `dynamic-vae experiment <name>`.
        help: one line for `--help`.
        default_preset: the preset conditions start from.
        columns: `(key, header, format)` of every table column, in order; `format` is a
            format spec such as `.3f` ('' for text).

    Example:
    >>> class Spinning(ExperimentFamily):                        # doctest: +SKIP
    ...     name, help = "spinning", "COIL-20 objects turning"
    ...     columns = (("object", "object", ""), ("pose_error", "pose error", ".2f"))
    ...     def conditions(self, args): ...
    ...     def row(self, condition, summary, metrics): ...
    """

    name: str = ""
    help: str = ""
    default_preset: str = "counting-mnist"
    columns: tuple[tuple[str, str, str], ...] = ()

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds the family's own flags (the runner adds --output, --epochs, --preset,
        --seeds, --horizon, --quiet)."""

    def parse_flags(self, argv: list[str]) -> argparse.Namespace:
        """The family's own flags parsed from `argv`, with the runner's `preset` (the
        family's default) and `epochs` (the preset's) that `conditions` reads: the
        conditions of `dynamic-vae experiment NAME` outside the CLI, as a bench builds
        them."""
        parser = argparse.ArgumentParser(prog=f"{self.name} flags")
        self.add_arguments(parser)
        args = parser.parse_args(argv)
        args.preset, args.epochs = self.default_preset, None
        return args

    def conditions(self, args: argparse.Namespace) -> list[Condition]:
        """The runs to train, from the parsed arguments."""
        raise NotImplementedError

    def evaluate_options(self, args: argparse.Namespace) -> dict[str, Any]:
        """Further `evaluate_run` arguments (e.g. `heldout_frames`, `prediction_windows`)."""
        return {}

    def extra_metrics(self, condition: Condition, run_dir: Path) -> dict[str, Any]:
        """Family-specific metrics of a trained and evaluated run (e.g. a pose error for
        turning objects); `row` finds them in `metrics["family"]`."""
        return {}

    def row(self, condition: Condition, summary: dict[str, Any],
            metrics: dict[str, Any]) -> dict[str, Any]:
        """One table row from the training summary and the `evaluate_run` metrics."""
        raise NotImplementedError
