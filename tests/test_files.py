"""The one atomic writer: all or nothing, fsynced, 0644, and an error that names the file."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from _util import files
from _util.files import OutputWriteError, write_atomic


def test_writes_text_and_bytes_with_mode_0644_and_creates_the_folder(tmp_path):
    path = write_atomic(tmp_path / "a" / "b" / "report.json", "{\"é\": 1}\n")
    assert path.read_text(encoding="utf-8") == "{\"é\": 1}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    write_atomic(path, b"\x89PNG")
    assert path.read_bytes() == b"\x89PNG"
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_fsyncs_before_the_name_points_at_the_file(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fsync

    def fsync(fd):
        synced.append(fd)
        assert not (tmp_path / "x.json").exists()  # fsync comes before os.replace
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    write_atomic(tmp_path / "x.json", "1")
    assert len(synced) == 1


@pytest.mark.parametrize("fault", ["write", "replace"])
def test_a_failed_write_names_the_path_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, fault):
    path = write_atomic(tmp_path / "2026-11-25" / "report.json", "old")

    def full(*_args, **_kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync" if fault == "write" else "replace", full)
    with pytest.raises(OutputWriteError) as info:
        write_atomic(path, "new")
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert info.value.filename == str(path) and info.value.__cause__ is None
    assert path.read_text() == "old"
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "2026-11-25" / "report.json"
    with pytest.raises(OSError, match=f"^cannot write {target}: Not a directory$"):
        write_atomic(target, "x")
