"""Hostile FMU archives: a zip bomb, a member lying about its size, a path out of the folder.

Each archive is a real exported FMU with one member added (or altered)
here; every refusal is one line and leaves nothing in the temporary folder.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest

from support import run_twin
from twin.core.errors import InputError
from twin.core.fmu.description import (LIMIT_VARIABLE, MAX_UNPACKED_BYTES, describe_fmu,
                                       extract_fmu, unpack_limit)
from twin.core.fmu.instance import FmuInstance

MIB = 2 ** 20


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """The process's temporary folder, empty at the start of the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _with_member(fmu: Path, out: Path, name: str, mib: int) -> Path:
    """A copy of ``fmu`` with ``mib`` MiB of zeros added as ``name`` (deflated)."""
    shutil.copy(fmu, out)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(name, "w", force_zip64=True) as f:
            block = bytes(MIB)
            for _ in range(mib):
                f.write(block)
    return out


@pytest.fixture(scope="module")
def bomb(exported, tmp_path_factory):
    """The CSTR FMU with 600 MiB of zeros: an archive of well under 2 MB."""
    return _with_member(exported("cstr"), tmp_path_factory.mktemp("bomb") / "bomb.fmu",
                        "resources/zeros.bin", 600)


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(bomb, temp_dir, capsys):
    assert bomb.stat().st_size < 2 * 10 ** 6
    declared = sum(i.file_size for i in zipfile.ZipFile(bomb).infolist())
    assert declared > 600 * MIB and unpack_limit() == MAX_UNPACKED_BYTES == 512 * MIB
    message = (f"FMU 'bomb' would unpack to {declared / MIB:.4g} MiB, more than the limit of "
               "512 MiB (set TWIN_FMU_MAX_BYTES [bytes] to allow more)")
    for call in (lambda: describe_fmu(bomb), lambda: extract_fmu(bomb)):
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == message
    code, _, err = run_twin(capsys, "fmu", "info", str(bomb))
    assert code == 2 and err == f"twin: error: {message}\n"
    assert list(temp_dir.iterdir()) == []


def test_the_limit_is_configurable(exported, tmp_path, temp_dir, monkeypatch):
    fmu = _with_member(exported("cstr"), tmp_path / "padded.fmu", "resources/pad.bin", 4)
    declared = sum(i.file_size for i in zipfile.ZipFile(fmu).infolist())
    monkeypatch.setenv(LIMIT_VARIABLE, str(declared - 1))
    with pytest.raises(InputError, match=f"more than the limit of {(declared - 1) / MIB:.4g} "
                                         "MiB"):
        describe_fmu(fmu)
    with pytest.raises(InputError, match="more than the limit"):
        extract_fmu(fmu, max_bytes=declared - 1)
    monkeypatch.setenv(LIMIT_VARIABLE, str(declared))
    folder = Path(extract_fmu(fmu))
    assert (folder / "resources" / "pad.bin").stat().st_size == 4 * MIB
    assert describe_fmu(fmu).name == "padded"
    shutil.rmtree(folder)
    for bad in ("lots", "-5", "0", "1.5e9"):
        monkeypatch.setenv(LIMIT_VARIABLE, bad)
        with pytest.raises(InputError) as info:
            describe_fmu(fmu)
        assert str(info.value) == (f"{LIMIT_VARIABLE}={bad!r}: give the largest unpacked FMU "
                                   "size in bytes (a positive whole number)")
    assert list(temp_dir.iterdir()) == []


def _lie_about_size(fmu: Path, name: str, size: int) -> None:
    """Rewrite the uncompressed size ``name`` declares (local header and central directory)."""
    with zipfile.ZipFile(fmu) as z:
        info = z.getinfo(name)
    data = bytearray(fmu.read_bytes())
    local = info.header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, size)
    entry = data.rfind(b"PK\x01\x02" + bytes(data[local + 4:local + 6]))  # its directory entry
    while data[entry + 46:entry + 46 + len(name)] != name.encode():
        entry = data.rfind(b"PK\x01\x02", 0, entry)
    struct.pack_into("<I", data, entry + 24, size)
    fmu.write_bytes(bytes(data))


@pytest.fixture
def liar(exported, tmp_path):
    """The CSTR FMU with an 8 MiB member that declares 1 KiB."""
    fmu = tmp_path / "liar.fmu"
    shutil.copy(exported("cstr"), fmu)
    with zipfile.ZipFile(fmu, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("resources/blob.bin", bytes(8 * MIB))
    _lie_about_size(fmu, "resources/blob.bin", 1024)
    assert zipfile.ZipFile(fmu).getinfo("resources/blob.bin").file_size == 1024
    return fmu


def test_a_member_lying_about_its_size_is_refused_and_nothing_is_left(liar, temp_dir,
                                                                     tmp_path):
    d = describe_fmu(liar)  # the declared sizes are small: the description is read
    with pytest.raises(InputError) as info:
        FmuInstance(d)  # in-process: unpacks into a new temporary folder
    assert str(info.value) == ("FMU 'liar' cannot be unpacked: Bad CRC-32 for file "
                               "'resources/blob.bin'")
    assert list(temp_dir.iterdir()) == []
    target = tmp_path / "given"
    target.mkdir()
    (target / "mine.txt").write_text("kept")
    with pytest.raises(InputError, match="Bad CRC-32"):
        extract_fmu(liar, target)
    assert [p.name for p in target.iterdir()] == ["mine.txt"]  # only what was unpacked goes


def test_a_member_out_of_the_folder_is_refused(exported, tmp_path, temp_dir):
    fmu = tmp_path / "escape.fmu"
    shutil.copy(exported("cstr"), fmu)
    with zipfile.ZipFile(fmu, "a") as z:
        z.writestr(zipfile.ZipInfo("resources/../../evil.txt"), b"x")
    for call in (lambda: describe_fmu(fmu), lambda: extract_fmu(fmu)):
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == ("FMU 'escape': archive member 'resources/../../evil.txt' "
                                   "would unpack outside the FMU's folder")
    assert list(temp_dir.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_a_normal_fmu_still_unpacks_and_runs(exported, temp_dir):
    d = describe_fmu(exported("cstr"))
    with FmuInstance(d) as fmu:
        unpacked = Path(fmu._unzipped)
        assert unpacked.parent == temp_dir and (unpacked / "modelDescription.xml").is_file()
    assert list(temp_dir.iterdir()) == []
