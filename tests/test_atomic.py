"""Atomic files and directories: a failed write leaves nothing half-written."""

import numpy as np
import pytest

from dynamic_vae.atomic import (atomic_directory, atomic_path, atomic_save_npy,
                                atomic_write_bytes, atomic_write_text, staging_directory)


def visible(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writers_replace_the_file_and_leave_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "first")
    atomic_write_text(tmp_path / "a.txt", "second")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    atomic_save_npy(tmp_path / "c.npy", np.arange(3))
    assert (tmp_path / "a.txt").read_text() == "second"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), np.arange(3))
    assert visible(tmp_path) == ["a.txt", "b.bin", "c.npy"]


def test_a_failing_file_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed while writing")
    assert target.read_text() == "old"
    assert visible(tmp_path) == ["state.json"]
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "new.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed while writing")
    assert visible(tmp_path) == ["state.json"]


def test_written_files_get_the_umask_permissions_not_mkstemps(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o044 == 0o044


@pytest.mark.parametrize("durable", [False, True])
def test_atomic_directory_replaces_a_whole_directory(tmp_path, durable):
    target = tmp_path / "out"
    with atomic_directory(target, durable=durable) as out:
        (out / "one").write_text("1")
    with atomic_directory(target, durable=durable) as out:
        (out / "two").write_text("2")
    assert visible(target) == ["two"]
    assert visible(tmp_path) == ["out"]


def test_a_failing_directory_write_keeps_the_old_one(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as out:
        (out / "one").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as out:
            (out / "two").write_text("2")
            raise RuntimeError("failed half-way")
    assert visible(target) == ["one"]
    assert visible(tmp_path) == ["out"]


def test_a_staging_directory_not_renamed_is_removed(tmp_path):
    with staging_directory(tmp_path, "export-") as tmp:
        assert tmp.name.startswith(".export-")
        (tmp / "saved_model.pb").write_bytes(b"")
    assert visible(tmp_path) == []
    with staging_directory(tmp_path, "export-") as tmp:
        tmp.rename(tmp_path / "1")
    assert visible(tmp_path) == ["1"]
