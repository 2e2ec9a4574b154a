"""The `dynamic-vae` program: assembles the command groups' parsers and dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

from dynamic_vae.cli import quiet

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
    parser.add_argument(quiet.VERBOSE_FLAG, action="store_true",
                        help="show TensorFlow's start-up and C++ log lines, which are hidden "
                             f"by default (also {quiet.VERBOSE_ENV}=1)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one `dynamic-vae` command.

    Run as the program (`argv` None), it first hides TensorFlow's log lines from its stderr
    unless `--verbose` or DYNAMIC_VAE_VERBOSE=1 asks for them (see `dynamic_vae.cli.quiet`);
    called with `argv`, it leaves the calling process's stderr alone.

    Args:
        argv: the arguments after the program name (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0, or 2 after printing an error that names the flag or file at fault.

    Example:

    >>> main(["inspect", "runs/demo"])
    """
    if argv is None and not quiet.verbose_requested(sys.argv[1:]):
        quiet.quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"dynamic-vae {args.command}: error: {error}", file=sys.stderr)
        return 2
