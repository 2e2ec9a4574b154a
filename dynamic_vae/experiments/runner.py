"""Runs an experiment family: train, evaluate and tabulate every condition.

Writes OUTPUT/<condition>/ (a run directory with its evaluation/) for each condition and
OUTPUT/results.json and OUTPUT/results.md (the table), rewritten after every condition so an
interrupted experiment keeps the rows it finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dynamic_vae.experiments.condition import Condition
from dynamic_vae.experiments.experiment_family import ExperimentFamily
from dynamic_vae.atomic import atomic_write_text

COMMON_COLUMNS = (("train_seconds", "training wall time (s)", ".0f"),
                  ("wall_seconds", "total wall time (s)", ".0f"))


def format_table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str, str], ...]) -> str:
    """A Markdown table of `rows` with `columns` `(key, header, format)`; missing values '-'."""
    def cell(value: Any, spec: str) -> str:
        if value is None:
            return "-"
        return format(value, spec) if spec else str(value)

    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(key), spec) for key, _, spec in columns) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def run_experiment(
    family: ExperimentFamily,
    conditions: list[Condition],
    output_dir: str | Path,
    seeds: int = 5,
    horizon: int = 1000,
    verbose: int | str = 0,
    evaluate_options: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Trains and evaluates every condition; returns the table rows.

    Args:
        family: says what a row holds.
        conditions: the runs (from `family.conditions(args)`).
        output_dir: experiment directory.
        seeds, horizon: passed to `evaluate_run`.
        verbose: Keras progress output while training.
        evaluate_options: further `evaluate_run` arguments.
        log: where progress lines go.
    """
    from dynamic_vae.evaluation import evaluate_run
    from dynamic_vae.training import train

    if not conditions:
        raise ValueError("conditions: got none")

    from dynamic_vae.evaluation.run_evaluation import check_evaluation_options

    check_evaluation_options(seeds, horizon)  # before hours of training, not after
    output_dir = Path(output_dir)
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise ValueError(f"conditions: run names must be unique, got {names}")
    columns = family.columns or ()
    keys = {key for key, _, _ in columns}
    columns = columns + tuple(c for c in COMMON_COLUMNS if c[0] not in keys)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for index, condition in enumerate(conditions, start=1):
        log(f"[{index}/{len(conditions)}] {condition.name}: training "
            f"({condition.config.training.epochs} epochs)")
        run_dir = output_dir / condition.name
        condition_start = time.perf_counter()
        _, summary = train(condition.config, run_dir, frames=condition.frames,
                           frames_source=condition.frames_source, verbose=verbose)
        options = {"frames": condition.frames, **(evaluate_options or {}),
                   **condition.evaluate_options}
        metrics = evaluate_run(run_dir, seeds=seeds, horizon=horizon, **options)
        metrics["family"] = family.extra_metrics(condition, run_dir)
        row = {**family.row(condition, summary, metrics),
               "train_seconds": summary["wall_time_seconds"],
               "evaluate_seconds": metrics["wall_time_seconds"],
               "wall_seconds": time.perf_counter() - condition_start,
               "run_dir": str(run_dir)}
        rows.append(row)
        log(f"[{index}/{len(conditions)}] {condition.name}: done in "
            f"{row['wall_seconds']:.0f} s; report {run_dir / 'evaluation' / 'report.md'}")
        table = format_table(rows, columns)
        atomic_write_text(output_dir / "results.json", json.dumps(
            {"family": family.name, "seeds": seeds, "horizon": horizon,
             "total_seconds": time.perf_counter() - started, "rows": rows}, indent=2))
        atomic_write_text(output_dir / "results.md",
                          f"# Experiment: {family.name}\n\n{seeds} seeds x {horizon} "
                          f"synthesised frames per model.\n\n{table}")
    return rows
