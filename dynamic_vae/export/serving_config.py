"""TF Serving's model config (`--model_config_file`) for every model exported to a folder.

`tensorflow_model_server` serves several models only from a `ModelServerConfig` in protobuf
text format that lists each model's name and base path. `write_serving_config` writes one
entry per model folder of `saved_models/` that holds at least one complete version, so a
model exported under any name is served; `dynamic-vae export` rewrites it after each export
when it exists. The file is written atomically: TF Serving re-reads the config while it runs
(`--model_config_file_poll_wait_seconds`) and must never see half a file.
"""

from __future__ import annotations

import re
from pathlib import Path

from dynamic_vae.atomic import atomic_write_text
from dynamic_vae.export.versioning import existing_versions

SERVING_CONFIG_FILE = "models.config"
# Where serving/docker-compose.yml mounts saved_models/ inside the TF Serving container.
DEFAULT_BASE_PATH_PREFIX = "/models"
# Two versions loaded: requests pinned to the previous version keep working while clients
# move to a new export.
DEFAULT_NUM_VERSIONS = 2
# The first line of every config this module writes: it marks the file as one that may be
# rewritten, and records the settings a rewrite keeps.
_MARKER = "# Written by dynamic-vae serving-config"
_SETTINGS = re.compile(r"base_path_prefix=(?P<prefix>\S+) num_versions=(?P<num>\d+)")


def served_model_names(saved_models_dir: str | Path) -> list[str]:
    """The model folders of `saved_models_dir` that hold a complete version, sorted.

    A folder counts when it has an integer version subfolder with a `saved_model.pb` (or
    `.pbtxt`); hidden names (temporary folders of exports in progress) never count.

    Args:
        saved_models_dir: the folder holding `NAME/<version>/` (e.g. `saved_models`).

    Example:
    >>> served_model_names("saved_models")   # doctest: +SKIP
    ['counting', 'fountain']
    """
    root = Path(saved_models_dir)
    names = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if any((folder / str(v) / f).is_file() for v in existing_versions(folder)
               for f in ("saved_model.pb", "saved_model.pbtxt")):
            names.append(folder.name)
    return names


def serving_config_text(names: list[str], base_path_prefix: str = DEFAULT_BASE_PATH_PREFIX,
                        num_versions: int = DEFAULT_NUM_VERSIONS) -> str:
    """A text-format `ModelServerConfig` serving `names` from `base_path_prefix/NAME`.

    Args:
        names: the model names (folder names under the saved-models folder).
        base_path_prefix: where the server sees that folder: `/models` inside the container
            of serving/docker-compose.yml, or an absolute host path for a local
            `tensorflow_model_server`.
        num_versions: the newest versions of each model kept loaded.

    Example:
    >>> print(serving_config_text(["counting"]).splitlines()[4])
        name: "counting"
    """
    if num_versions < 1:
        raise ValueError(f"num_versions must be >= 1, got {num_versions}")
    if not base_path_prefix or any(c.isspace() for c in base_path_prefix):
        raise ValueError(f"base_path_prefix: expected a path without spaces, got "
                         f"{base_path_prefix!r}")
    prefix = base_path_prefix.rstrip("/")  # "/" serves /NAME
    lines = [f"{_MARKER}: base_path_prefix={base_path_prefix} num_versions={num_versions}",
             "# from the model folders present; rewritten by each `dynamic-vae export`.",
             "model_config_list {"]
    for name in names:
        lines += ["  config {",
                  f"    name: {_quote(name)}",
                  f"    base_path: {_quote(f'{prefix}/{name}')}",
                  '    model_platform: "tensorflow"',
                  f"    model_version_policy {{ latest {{ num_versions: {num_versions} }} }}",
                  "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_serving_config(saved_models_dir: str | Path, config_path: str | Path | None = None,
                         base_path_prefix: str | None = None,
                         num_versions: int | None = None) -> Path:
    """(Re)writes the TF Serving model config for every model in `saved_models_dir`.

    Args:
        saved_models_dir: the folder holding `NAME/<version>/`.
        config_path: the config to write (default `saved_models_dir/models.config`, where
            serving/docker-compose.yml reads it).
        base_path_prefix: see `serving_config_text` (default: what the existing config was
            written with, else `/models`).
        num_versions: see `serving_config_text` (default: the existing config's, else 2).

    Returns:
        The config's path.

    Raises:
        FileNotFoundError: `saved_models_dir` is not a folder.
        ValueError: it holds no exported model, or `config_path` exists and was not written
            by this function (a hand-written config is never overwritten).

    Example:
    >>> write_serving_config("saved_models")   # doctest: +SKIP
    PosixPath('saved_models/models.config')
    """
    root = Path(saved_models_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected the folder holding "
                                "exported models as NAME/<version>/)")
    path = Path(config_path) if config_path is not None else root / SERVING_CONFIG_FILE
    previous = serving_config_settings(path)
    names = served_model_names(root)
    if not names:
        raise ValueError(f"{root}: holds no exported model (expected NAME/<version>/"
                         "saved_model.pb folders, as `dynamic-vae export` writes)")
    text = serving_config_text(
        names,
        base_path_prefix=base_path_prefix or previous.get("prefix", DEFAULT_BASE_PATH_PREFIX),
        num_versions=num_versions or int(previous.get("num", DEFAULT_NUM_VERSIONS)))
    atomic_write_text(path, text)
    return path


def has_serving_config(saved_models_dir: str | Path) -> bool:
    """Whether `saved_models_dir` holds a config this module wrote (export then updates it)."""
    path = Path(saved_models_dir) / SERVING_CONFIG_FILE
    return path.is_file() and path.read_text(encoding="utf-8",
                                             errors="replace").startswith(_MARKER)


def serving_config_settings(path: str | Path) -> dict[str, str]:
    """The settings recorded in the config at `path` ({} when there is none).

    Args:
        path: a model config file.

    Returns:
        `{"prefix": base path prefix, "num": versions kept}`, or {} when `path` does not
        exist.

    Raises:
        ValueError: `path` is a folder, or a config this module did not write.

    Example:
    >>> serving_config_settings("saved_models/models.config")   # doctest: +SKIP
    {'prefix': '/models', 'num': '2'}
    """
    path = Path(path)
    if not path.exists():
        return {}
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected a model config file")
    first_line = path.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
    match = _SETTINGS.search(first_line)
    if not first_line.startswith(_MARKER) or match is None:
        raise ValueError(f"{path}: exists and was not written by dynamic-vae (expected its "
                         f"first line to start with {_MARKER!r}, got {first_line[:80]!r}); "
                         "move it away or write the config elsewhere")
    return match.groupdict()


def _quote(text: str) -> str:
    """A protobuf text-format string literal (UTF-8 bytes as octal escapes)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'
