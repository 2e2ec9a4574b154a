"""The `dynamic-vae` program: assembles the command groups' parsers and dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command group owns its subcommands: its module has `add_parsers(subparsers)` and sets
# `handler` on its parsers, so adding a command never touches the dispatch below. The order
# is the order of `dynamic-vae --help`.
COMMAND_GROUPS: tuple[str, ...] = (
    "dynamic_vae.cli.train",
    "dynamic_vae.cli.evaluation",
    "dynamic_vae.cli.inference",
    "dynamic_vae.cli.data",
    "dynamic_vae.cli.serving",
    "dynamic_vae.cli.client",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of `dynamic-vae` with every command group's subcommands."""
    parser = argparse.ArgumentParser(
        prog="dynamic-vae",
        description="Linear models of non-linear visual processes (Dynamic VAE).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one `dynamic-vae` command.

    Args:
        argv: the arguments after the program name (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0, or 2 after printing an error that names the flag or file at fault.

    Example:

    >>> main(["inspect", "runs/demo"])
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"dynamic-vae {args.command}: error: {error}", file=sys.stderr)
        return 2
