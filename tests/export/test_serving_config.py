"""TF Serving's model config for every exported model name (`serving-config`, `export`)."""

import pytest
from google.protobuf import text_format

from dynamic_vae.cli import main
from dynamic_vae.export import (SERVING_CONFIG_FILE, export_run, served_model_names,
                                serving_config_text, write_serving_config)
from tests.helpers.serving import shared_tiny_export


def parse_config(path):
    """The file as TF Serving parses it: a text-format ModelServerConfig."""
    from tensorflow_serving.config import model_server_config_pb2

    return text_format.Parse(path.read_text(encoding="utf-8"),
                             model_server_config_pb2.ModelServerConfig())


def entries(path):
    return {c.name: c for c in parse_config(path).model_config_list.config}


def fake_version(root, name, version=1):
    """A version folder as TF Serving sees it (only saved_model.pb's presence matters)."""
    folder = root / name / str(version)
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")


def test_the_config_lists_exactly_the_exported_names(tmp_path):
    fake_version(tmp_path, "counting")
    fake_version(tmp_path, "fountain", 3)
    (tmp_path / "fountain" / "1").mkdir()              # an empty version: still served by 3
    (tmp_path / "no_versions").mkdir()
    (tmp_path / "only_partial" / "1").mkdir(parents=True)    # no saved_model.pb
    fake_version(tmp_path, ".export-tmp")                # an export in progress
    (tmp_path / "labels" / "stable").mkdir(parents=True)     # not an integer version
    (tmp_path / "notes.txt").write_text("not a model")
    path = write_serving_config(tmp_path)
    assert path == tmp_path / SERVING_CONFIG_FILE
    config = entries(path)
    assert sorted(config) == ["counting", "fountain"] == served_model_names(tmp_path)
    for name, entry in config.items():
        assert entry.base_path == f"/models/{name}"
        assert entry.model_platform == "tensorflow"
        assert entry.model_version_policy.latest.num_versions == 2
    # Written atomically: no temporary file is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [
        ".export-tmp"]


def test_a_rewrite_keeps_the_base_path_prefix_and_version_count(tmp_path):
    fake_version(tmp_path, "counting")
    write_serving_config(tmp_path, base_path_prefix="/srv/saved_models/", num_versions=1)
    fake_version(tmp_path, "fountain")
    write_serving_config(tmp_path)
    config = entries(tmp_path / SERVING_CONFIG_FILE)
    assert {n: e.base_path for n, e in config.items()} == {
        "counting": "/srv/saved_models/counting", "fountain": "/srv/saved_models/fountain"}
    assert {e.model_version_policy.latest.num_versions for e in config.values()} == {1}


def test_names_with_quotes_and_non_ascii_letters_parse_back_unchanged(tmp_path):
    names = ['say "hi"', "caf\u00e9", "back\\slash"]
    path = tmp_path / "models.config"
    path.write_text(serving_config_text(names), encoding="utf-8")
    assert sorted(entries(path)) == sorted(names)
    assert entries(path)["caf\u00e9"].base_path == "/models/caf\u00e9"


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "no such folder"),
    (lambda root: root.mkdir(), "holds no exported model"),
])
def test_a_folder_without_models_is_an_error_naming_it(tmp_path, make, message):
    root = tmp_path / "saved_models"
    make(root)
    with pytest.raises((FileNotFoundError, ValueError), match=message) as error:
        write_serving_config(root)
    assert str(root) in str(error.value)


def test_a_hand_written_config_is_never_overwritten(tmp_path):
    fake_version(tmp_path, "counting")
    path = tmp_path / SERVING_CONFIG_FILE
    path.write_text("model_config_list { }\n")
    with pytest.raises(ValueError, match="was not written by dynamic-vae") as error:
        write_serving_config(tmp_path)
    assert str(path) in str(error.value)
    assert path.read_text() == "model_config_list { }\n"
    (tmp_path / "folder.config").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        write_serving_config(tmp_path, tmp_path / "folder.config")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="num_versions must be >= 1, got 0"):
        serving_config_text(["a"], num_versions=0)
    with pytest.raises(ValueError, match="base_path_prefix: expected a path without spaces"):
        serving_config_text(["a"], base_path_prefix="/my models")


def test_export_keeps_the_config_listing_every_exported_name(tmp_path_factory, tmp_path, capsys):
    run_dir = shared_tiny_export(tmp_path_factory)["run"]
    base = tmp_path / "saved_models"
    # No config yet: export leaves it to serving-config (or --update-config).
    export_run(run_dir, "counting", base_dir=base, max_frames=16)
    assert not (base / SERVING_CONFIG_FILE).exists()
    assert main(["serving-config", str(base)]) == 0
    assert "1 model(s): counting" in capsys.readouterr().out
    # Once it exists, every export rewrites it.
    assert main(["export", str(run_dir), "--name", "fountain", "--base-dir", str(base),
                 "--max-frames", "16"]) == 0
    assert f"updated {base / SERVING_CONFIG_FILE}" in capsys.readouterr().out
    assert sorted(entries(base / SERVING_CONFIG_FILE)) == ["counting", "fountain"]


def test_export_fails_before_writing_a_version_when_it_cannot_update_the_config(tmp_path):
    base = tmp_path / "saved_models"
    base.mkdir()
    (base / SERVING_CONFIG_FILE).write_text("# mine\n")
    with pytest.raises(ValueError, match="was not written by dynamic-vae"):
        export_run(tmp_path / "any-run", "counting", base_dir=base, serving_config=True)
    assert not (base / "counting").exists()


def test_the_serving_config_command_names_the_bad_folder(tmp_path, capsys):
    assert main(["serving-config", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "dynamic-vae serving-config: error:" in err and str(tmp_path / "missing") in err
    assert main(["serving-config", str(tmp_path), "--num-versions", "0"]) == 2
    assert "--num-versions must be >= 1, got 0" in capsys.readouterr().err
