"""The what-if output folder on its own: atomic writes, the stamp, parts and their checks.

Each function of :mod:`twin.orchestration.whatif.parts` is called directly on
real files; the expected values (checksums, manifests, the reason a part is
not reused) are computed here from the bytes and rows written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random

import pandas as pd
import pyarrow.parquet as pq
import pytest

from twin.core.errors import InputError
from twin.orchestration.whatif import parts

pytestmark = pytest.mark.timeout(20)  # a defect that loops forever fails, it does not hang

FP = "0123456789abcdef"
ID = "scenario"
REQUIRED = [ID, "x", "status", "error", "seconds"]


def _rows(ids) -> list[dict]:
    """Summary rows of the scenarios ``ids``: y = x^2 + 0.25 with x = ids / 2."""
    return [{ID: i, "x": 0.5 * i, "y": 0.25 * i * i + 0.25, "status": "ok", "error": "",
             "seconds": 0.01 * (i + 1)} for i in ids]


def _folder(tmp_path, *chunks) -> "os.PathLike":
    """A stamped study folder holding one part per chunk of scenario ids."""
    folder = tmp_path / "out"
    parts.open_folder(folder, FP, "title", "study", resume=False)
    for ids in chunks:
        parts.write_part(folder, _rows(ids), FP, ID)
    return folder


def _verified(path, known=range(100)):
    return parts._verified(path, FP, REQUIRED, ID, set(known))


def _rewrite(path, frame: pd.DataFrame, **manifest_changes) -> None:
    """Replace a part by ``frame`` with a manifest that matches it (a consistent fake)."""
    frame.to_parquet(path, index=False)
    manifest = {"fingerprint": FP, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "ids": [int(i) for i in frame[ID]] if frame[ID].dtype.kind == "i" else [],
                "columns": [str(c) for c in frame.columns], **manifest_changes}
    path.with_suffix(".json").write_text(json.dumps(manifest))


# --- atomic writes ----------------------------------------------------------------------------

def test_atomic_bytes_replaces_a_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "study.json"
    path.write_bytes(b"old")
    parts.atomic_bytes(b'{"new": 1}', path)
    assert path.read_bytes() == b'{"new": 1}'
    assert os.listdir(tmp_path) == ["study.json"]


def test_an_atomic_write_that_fails_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()  # a folder cannot be replaced by a file
    with pytest.raises(OSError):
        parts.atomic_bytes(b"data", target)
    with pytest.raises(OSError):
        parts.atomic_parquet(pd.DataFrame({"a": [1]}), target)
    assert os.listdir(tmp_path) == ["taken"] and os.listdir(target) == []


def test_atomic_parquet_writes_the_columns_only_never_the_index(tmp_path):
    path = tmp_path / "frame.parquet"
    frame = pd.DataFrame({"a": [1.5, 2.5]}, index=[5, 7])
    parts.atomic_parquet(frame, path)
    assert pq.read_schema(path).names == ["a"]
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame.reset_index(drop=True))
    assert os.listdir(tmp_path) == ["frame.parquet"]


# --- the stamp --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, result", [
    (None, (None, "no study.json")),
    (b"", (None, "study.json is unreadable: Expecting value: line 1 column 1 (char 0)")),
    (b"\xff", (None, "study.json is unreadable: 'utf-8' codec can't decode byte 0xff in "
                     "position 0: invalid start byte")),
    (b"[1, 2]", (None, "study.json holds no study fingerprint")),
    (b'{"title": "t"}', (None, "study.json holds no study fingerprint")),
    (b'{"fingerprint": 5}', (None, "study.json holds no study fingerprint")),
    (b'{"fingerprint": "ab", "title": "t"}', ({"fingerprint": "ab", "title": "t"}, "")),
])
def test_read_stamp_gives_the_stamp_or_why_there_is_none(tmp_path, text, result):
    if text is not None:
        (tmp_path / "study.json").write_bytes(text)
    assert parts._read_stamp(tmp_path) == result


def test_a_folder_named_like_the_stamp_is_no_stamp(tmp_path):
    (tmp_path / "study.json").mkdir()
    assert parts._read_stamp(tmp_path) == (None, "no study.json")


def test_has_parts_looks_for_part_files_only(tmp_path):
    assert not parts._has_parts(tmp_path)  # no parts folder
    (tmp_path / "parts").mkdir()
    assert not parts._has_parts(tmp_path)
    (tmp_path / "parts" / "notes.txt").write_text("mine")
    assert not parts._has_parts(tmp_path)
    (tmp_path / "parts" / "part-000000004.json").write_text("{}")  # a manifest alone counts
    assert parts._has_parts(tmp_path)


def test_open_folder_creates_and_stamps_a_new_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    parts.open_folder(folder, FP, "My study", "Study(...)", resume=False)
    assert (folder / "parts").is_dir() and list((folder / "parts").iterdir()) == []
    assert json.loads((folder / "study.json").read_text()) == {
        "fingerprint": FP, "title": "My study", "study": "Study(...)"}
    assert sorted(os.listdir(folder)) == ["parts", "study.json"]


def test_a_folder_without_parts_takes_any_study_with_force_or_resume(tmp_path):
    folder = tmp_path / "out"
    parts.open_folder(folder, FP, "first", "s", resume=False)
    with pytest.raises(InputError) as caught:
        parts.open_folder(folder, "fedcba9876543210", "second", "s", resume=False)
    assert str(caught.value) == (f"--out {folder} already holds files (an earlier run?): give "
                                 "another --out, or add --force to replace that run")
    parts.open_folder(folder, "fedcba9876543210", "second", "s", resume=False, force=True)
    assert json.loads((folder / "study.json").read_text())["fingerprint"] == "fedcba9876543210"
    parts.open_folder(folder, FP, "third", "s", resume=True)  # --resume with nothing to resume
    assert json.loads((folder / "study.json").read_text())["title"] == "third"


def test_a_file_given_as_the_folder_is_refused(tmp_path):
    path = tmp_path / "out"
    path.write_text("x")
    with pytest.raises(InputError) as caught:
        parts.open_folder(path, FP, "t", "s", resume=True)
    assert str(caught.value) == f"--out {path} is a file, not a folder"


def test_parts_are_resumed_only_with_resume_and_only_by_their_study(tmp_path):
    folder = _folder(tmp_path, [0, 1])
    with pytest.raises(InputError) as caught:
        parts.open_folder(folder, FP, "t", "s", resume=False)
    assert str(caught.value) == (f"{folder} holds an earlier study run: add --resume to finish "
                                 "it, --force to replace it, or give another --out")
    with pytest.raises(InputError) as caught:
        parts.open_folder(folder, "fedcba9876543210", "t", "s", resume=True)
    assert str(caught.value) == (f"{folder} holds a run of a different study (the study or a "
                                 "file it uses changed): give another --out")
    assert json.loads((folder / "study.json").read_text())["title"] == "title"  # untouched
    parts.open_folder(folder, FP, "renamed", "s", resume=True)
    assert json.loads((folder / "study.json").read_text()) == {
        "fingerprint": FP, "title": "renamed", "study": "s"}
    assert (folder / "parts" / "part-000000000.parquet").is_file()  # kept for reuse


@pytest.mark.parametrize("stamp, why", [
    (None, "no study.json"),
    (b"[]", "study.json holds no study fingerprint"),
])
def test_parts_without_a_valid_stamp_are_refused(tmp_path, stamp, why):
    folder = _folder(tmp_path, [0, 1])
    (folder / "study.json").unlink()
    if stamp is not None:
        (folder / "study.json").write_bytes(stamp)
    for resume in (False, True):
        with pytest.raises(InputError) as caught:
            parts.open_folder(folder, FP, "t", "s", resume=resume)
        assert str(caught.value) == (f"{folder} holds what-if results of an unknown study "
                                     f"({why}): give another --out, or delete the folder")


# --- parts and their manifests ----------------------------------------------------------------

def test_write_part_names_it_by_its_first_scenario_and_records_a_manifest(tmp_path):
    folder = _folder(tmp_path)
    path = parts.write_part(folder, _rows([5, 3, 4]), FP, ID)
    assert path == folder / "parts" / "part-000000003.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.DataFrame(_rows([5, 3, 4])))
    assert json.loads(path.with_suffix(".json").read_text()) == {
        "fingerprint": FP, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "ids": [5, 3, 4], "columns": [ID, "x", "y", "status", "error", "seconds"]}
    assert sorted(os.listdir(folder / "parts")) == ["part-000000003.json",
                                                    "part-000000003.parquet"]


def test_the_checksum_reads_a_file_of_several_blocks(tmp_path):
    data = random.Random(7).randbytes(5 * 2 ** 19 + 11)  # 2.5 MiB and a bit
    path = tmp_path / "big"
    path.write_bytes(data)
    assert parts._sha256(path) == hashlib.sha256(data).hexdigest()
    path.write_bytes(b"")
    assert parts._sha256(path) == hashlib.sha256(b"").hexdigest()


def test_a_part_as_written_is_verified_with_its_rows(tmp_path):
    folder = _folder(tmp_path, [3, 4, 5])
    frame, why = _verified(folder / "parts" / "part-000000003.parquet")
    assert why == ""
    pd.testing.assert_frame_equal(frame, pd.DataFrame(_rows([3, 4, 5])))
    whole, why = _verified(folder / "parts" / "part-000000003.parquet", known=[3, 4, 5])
    assert why == "" and list(whole[ID]) == [3, 4, 5]  # a part may hold every scenario


def _no_manifest(path):
    path.with_suffix(".json").unlink()


def _garbage_manifest(path):
    path.with_suffix(".json").write_bytes(b"{not json")


def _list_manifest(path):
    path.with_suffix(".json").write_text("[1, 2]")


def _manifest_without(key):
    def damage(path):
        manifest = json.loads(path.with_suffix(".json").read_text())
        del manifest[key]
        path.with_suffix(".json").write_text(json.dumps(manifest))
    return damage


def _other_study(path):
    manifest = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**manifest, "fingerprint": "f" * 16}))


def _empty(path):
    path.write_bytes(b"")


def _edited(path):
    frame = pd.read_parquet(path)
    frame.loc[0, "y"] = 123.0
    frame.to_parquet(path, index=False)


def _garbage_with_its_checksum(path):
    path.write_bytes(b"PAR1 but not parquet at all")
    manifest = json.loads(path.with_suffix(".json").read_text())
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(manifest))


def _without_required_columns(path):
    _rewrite(path, pd.read_parquet(path).drop(columns=["status", "error"]))


def _columns_not_as_recorded(path):
    frame = pd.read_parquet(path)
    _rewrite(path, frame, columns=list(reversed(frame.columns)))


def _ids_not_numbers(path):
    _rewrite(path, pd.read_parquet(path).assign(scenario=["a", "b", "c"]))


def _ids_not_as_recorded(path):
    _rewrite(path, pd.read_parquet(path), ids=[3, 4, 6])


def _ids_of_no_scenario(path):
    _rewrite(path, pd.read_parquet(path).assign(scenario=[3, 4, 500]))


@pytest.mark.parametrize("damage, why", [
    (_no_manifest, "it has no manifest (written before the manifest, or not by this study)"),
    (_garbage_manifest, "its manifest is unreadable (Expecting property name enclosed in double "
                        "quotes: line 1 column 2 (char 1))"),
    (_list_manifest, "its manifest is incomplete"),
    (_manifest_without("fingerprint"), "its manifest is incomplete"),
    (_manifest_without("sha256"), "its manifest is incomplete"),
    (_manifest_without("ids"), "its manifest is incomplete"),
    (_manifest_without("columns"), "its manifest is incomplete"),
    (_other_study, "it belongs to another study"),
    (_empty, "it is empty"),
    (_edited, "its contents differ from those written (truncated or edited)"),
    (_garbage_with_its_checksum, "it cannot be read (ArrowInvalid)"),
    (_without_required_columns, "its columns are wrong (missing: status, error)"),
    (_columns_not_as_recorded, "its columns are wrong (missing: none)"),
    (_ids_not_numbers, "its scenario ids are not whole numbers"),
    (_ids_not_as_recorded, "its scenario ids are not those recorded"),
    (_ids_of_no_scenario, "its scenario ids are not those recorded"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else "")
def test_a_part_that_fails_a_check_says_which(tmp_path, damage, why):
    folder = _folder(tmp_path, [3, 4, 5])
    path = folder / "parts" / "part-000000003.parquet"
    damage(path)
    assert _verified(path) == (None, why)


def test_a_part_whose_manifest_records_no_required_column_is_not_reused(tmp_path):
    folder = _folder(tmp_path)
    rows = [{k: v for k, v in r.items() if k != "status"} for r in _rows([0, 1])]
    path = parts.write_part(folder, rows, FP, ID)  # consistent, but of a study without status
    assert _verified(path) == (None, "its columns are wrong (missing: status)")


# --- finished, unfinished and collected scenarios ---------------------------------------------

def test_finished_gives_the_rows_of_the_verified_parts_and_deletes_the_others(tmp_path, caplog):
    folder = _folder(tmp_path, [0, 1, 2], [3, 4, 5], [6, 7])
    bad = folder / "parts" / "part-000000000.parquet"
    _edited(bad)
    (folder / "parts" / "part-000000003.json").unlink()
    (folder / "parts" / "part-000000009.json").write_text("{}")  # its part was never written
    with caplog.at_level(logging.WARNING, logger="twin.orchestration.whatif.parts"):
        rows = parts.finished(folder, FP, REQUIRED, ID, set(range(8)))
    pd.testing.assert_frame_equal(rows, pd.DataFrame(_rows([6, 7])))
    assert sorted(os.listdir(folder / "parts")) == ["part-000000006.json",
                                                    "part-000000006.parquet"]
    assert [r.getMessage() for r in caplog.records] == [
        f"whatif: {bad} is not reused: its contents differ from those written (truncated or "
        "edited); its scenarios run again",
        f"whatif: {folder / 'parts' / 'part-000000003.parquet'} is not reused: it has no "
        "manifest (written before the manifest, or not by this study); its scenarios run again"]


def test_finished_joins_every_good_part_in_one_frame(tmp_path):
    folder = _folder(tmp_path, [4, 5], [0, 1, 2, 3])
    rows = parts.finished(folder, FP, REQUIRED, ID, set(range(6)))
    pd.testing.assert_frame_equal(rows, pd.DataFrame(_rows([0, 1, 2, 3, 4, 5])))  # index 0..5


def test_finished_of_a_folder_without_parts_is_empty(tmp_path):
    folder = _folder(tmp_path)
    assert parts.finished(folder, FP, REQUIRED, ID, {0}).empty


def _table(n: int) -> pd.DataFrame:
    return pd.DataFrame({ID: range(n), "x": [0.5 * i for i in range(n)]})


def test_unfinished_gives_the_scenarios_no_part_holds_in_table_order(tmp_path):
    folder = _folder(tmp_path, [0, 1, 2], [5])
    assert parts.unfinished(folder, FP, _table(6), REQUIRED, ID) == [
        {ID: 3, "x": 1.5}, {ID: 4, "x": 2.0}]
    assert parts.unfinished(_folder(tmp_path / "new"), FP, _table(2), REQUIRED, ID) == [
        {ID: 0, "x": 0.0}, {ID: 1, "x": 0.5}]


def test_unfinished_runs_again_what_a_damaged_part_held(tmp_path):
    folder = _folder(tmp_path, [0, 1, 2], [3, 4])
    _empty(folder / "parts" / "part-000000000.parquet")
    assert [r[ID] for r in parts.unfinished(folder, FP, _table(5), REQUIRED, ID)] == [0, 1, 2]


def test_collect_gives_every_scenario_once_in_order(tmp_path):
    folder = _folder(tmp_path, [3, 5, 4], [2, 0, 1])
    rows = parts.collect(folder, FP, _table(6), REQUIRED, ID)
    pd.testing.assert_frame_equal(rows, pd.DataFrame(_rows(range(6))))


@pytest.mark.parametrize("chunks, n, found", [
    ((), 3, 0),
    (([0, 1],), 3, 2),  # a part lost
    (([0, 1, 2], [2, 3]), 4, 5),  # a scenario twice
])
def test_collect_of_anything_but_each_scenario_once_is_one_line(tmp_path, chunks, n, found):
    folder = _folder(tmp_path, *chunks)
    with pytest.raises(InputError) as caught:
        parts.collect(folder, FP, _table(n), REQUIRED, ID)
    assert str(caught.value) == (f"{folder}/parts is inconsistent ({found} rows for {n} "
                                 "scenarios): run the study again into a new --out")
