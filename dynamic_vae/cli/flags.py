"""Flags that set fields of the configuration dataclasses, derived from the dataclasses.

A field of `ModelConfig` or `TrainingConfig` becomes the flag `--field-name` with the field's
type, the allowed values the config module declares for it, and the help text of the class
docstring's Args section; so a new field is a new flag without touching the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any


def boolean(text: str) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off) as a flag value.

    Raises:
        argparse.ArgumentTypeError: for anything else, which argparse reports with the flag.
    """
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# Python types of config fields and how a flag parses them. Fields of other types (the
# `frame_shape` and `pixel_range` tuples) come from the data, not from flags.
FLAG_TYPES: dict[type, Callable[[str], Any]] = {bool: boolean, int: int, float: float, str: str}


@dataclasses.dataclass(frozen=True)
class ConfigFlag:
    """A command-line flag that sets one field of a configuration.

    Its value is None unless given, so an unset flag leaves the preset's field alone
    (`RunConfig.override` skips None).

    Args:
        name: the field name; the flag is `--` followed by it with `-` for `_`.
        kind: parses the flag's text (`int`, `float`, `str` or `boolean`).
        choices: the allowed values, or None for any.
        help: the flag's help text.

    Example:

    >>> flag = ConfigFlag("encoder_mode", str, ("frame", "pair"), "encoder per frame or pair")
    >>> flag.option
    '--encoder-mode'
    """

    name: str
    kind: Callable[[str], Any]
    choices: tuple[str, ...] | None = None
    help: str = ""

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        """Adds the flag to `parser`, defaulting to None."""
        metavar = None
        if self.choices is not None:
            metavar = "{" + ",".join(self.choices) + "}"
        elif self.kind is boolean:
            metavar = "{true,false}"
        # `%` would start a format specifier in argparse's help.
        parser.add_argument(self.option, dest=self.name, type=self.kind, default=None,
                            metavar=metavar, help=self.help.replace("%", "%%") or None)

    def check(self, value: Any) -> None:
        """Raises ValueError, naming the flag, the allowed values and `value`, when `value`
        is given and not one of the choices."""
        if self.choices is not None and value is not None and value not in self.choices:
            raise ValueError(f"{self.option}: {self.name} must be one of {self.choices}, got "
                             f"{value!r}")


def config_flags(config_class: type) -> tuple[ConfigFlag, ...]:
    """One flag per field of the dataclass `config_class` whose type a flag can hold.

    Types are the field annotations (`X | None` is a flag of type X); choices are a tuple of
    strings in the class's module named after the field, `FIELD_NAMEs` or `FIELD_NAME` (e.g.
    `ENCODER_MODES` for `encoder_mode`); help is the field's entry in the docstring's Args.

    Example:

    >>> from dynamic_vae.config import ModelConfig
    >>> [flag.option for flag in config_flags(ModelConfig)][:2]
    ['--latent-dim', '--filter-size']
    """
    hints = typing.get_type_hints(config_class)
    docs = field_docs(config_class)
    module = sys.modules[config_class.__module__]
    flags = []
    for field in dataclasses.fields(config_class):
        kind = FLAG_TYPES.get(_flag_type(hints[field.name]))
        if kind is None:
            continue
        choices = _declared_choices(module, field.name) if kind is str else None
        flags.append(ConfigFlag(field.name, kind, choices, docs.get(field.name, "")))
    return tuple(flags)


def check_config_flags(args: argparse.Namespace, flags: typing.Iterable[ConfigFlag]) -> None:
    """Checks the choices of every given flag in `flags` (see `ConfigFlag.check`).

    argparse's own `choices` would exit the program; checking here lets a wrong value be
    reported like the configuration's other checks, before anything is loaded or written.
    """
    for flag in flags:
        flag.check(getattr(args, flag.name))


def field_docs(config_class: type) -> dict[str, str]:
    """The Args entries of `config_class`'s docstring, one line each, without backticks."""
    docs: dict[str, str] = {}
    lines = (inspect.getdoc(config_class) or "").splitlines()
    try:
        start = lines.index("Args:") + 1
    except ValueError:
        return docs
    entry_indent = None
    name = None
    for line in lines[start:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break  # the next section
        entry_indent = indent if entry_indent is None else entry_indent
        match = re.match(r"(\w+): (.*)", line.strip())
        if indent == entry_indent and match:
            name = match.group(1)
            docs[name] = match.group(2)
        elif name is not None:
            docs[name] += " " + line.strip()
    return {key: text.replace("`", "") for key, text in docs.items()}


def _flag_type(annotation: Any) -> Any:
    """The type behind `X | None` (and `Optional[X]`); other annotations as they are."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation


def _declared_choices(module: types.ModuleType, name: str) -> tuple[str, ...] | None:
    for constant in (name.upper() + "S", name.upper()):
        value = getattr(module, constant, None)
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            return value
    return None
