"""Nothing the package reads can run code: no pickles, Keras safe_mode always on."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

from dynamic_vae.cli import main
from dynamic_vae.run_backup import RunBackup
from dynamic_vae.runs import load_run
from dynamic_vae.training import build_model
from tests.test_resume import tiny_config

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "dynamic_vae").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])


def calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                yield node


def keyword(node: ast.Call, name: str):
    for kw in node.keywords:
        if kw.arg == name:
            return ast.literal_eval(kw.value)
    return "(not given)"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_sources_never_unpickle(path):
    tree = ast.parse(path.read_text())
    for node in calls(tree, "load"):
        if isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") in (
                "np", "numpy"):
            assert keyword(node, "allow_pickle") is False, (
                f"{path}:{node.lineno}: np.load without allow_pickle=False")
    for node in calls(tree, "load_model"):
        assert keyword(node, "safe_mode") is True, (
            f"{path}:{node.lineno}: load_model without safe_mode=True")
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in getattr(node, "names", [])}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"pickle", "cloudpickle", "dill", "joblib", "shelve", "marshal"}


def test_keras_file_with_a_lambda_is_refused(tmp_path, capsys):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model.save(run_dir / "model.keras")
    with pytest.raises(ValueError, match=r"model.keras: cannot load the model.*Lambda"):
        load_run(run_dir)
    assert main(["inspect", str(run_dir)]) == 2
    assert "cannot load the model" in capsys.readouterr().err


def test_backup_holding_a_pickle_is_not_restored(tmp_path, capsys):
    config = tiny_config(epochs=1)
    model = build_model(config)
    model.optimizer.build(model.trainable_variables)
    backup = RunBackup(tmp_path / "backup", config.to_dict())
    backup.set_model(model)
    path = backup.save(1)
    arrays = dict(np.load(path / "state.npz", allow_pickle=False))
    arrays["v0"] = np.array([{"payload": 1}], dtype=object)
    np.savez(path / "state.npz", **arrays, allow_pickle=True)
    assert RunBackup(tmp_path / "backup", config.to_dict()).restore(model) == 0
    assert "Object arrays cannot be loaded" in capsys.readouterr().err
