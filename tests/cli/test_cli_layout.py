"""The command line is a thin layer: the library never imports it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted(p for p in (ROOT / "dynamic_vae").rglob("*.py")
                 if (ROOT / "dynamic_vae" / "cli") not in p.parents)


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_library_does_not_import_the_cli(path):
    cli = {m for m in imported_modules(path)
           if m == "dynamic_vae.cli" or m.startswith(("dynamic_vae.cli.", "dynamic_vae.cli_"))}
    assert not cli, f"{path.relative_to(ROOT)} imports {sorted(cli)}"


def test_one_cli_package():
    assert not list((ROOT / "dynamic_vae").glob("cli*.py"))
    assert (ROOT / "dynamic_vae" / "cli" / "__main__.py").is_file()
