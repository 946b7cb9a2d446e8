"""The output folder of a what-if study: its stamp, and finished chunks verified before reuse.

::

    study.json                   the stamp: the study and its fingerprint
    parts/part-<id>.parquet      the summary rows of one finished chunk (<id>: its first scenario)
    parts/part-<id>.json         its manifest: the study fingerprint, the SHA-256 of the part,
                                 its scenario ids

Every file is written to a temporary name and renamed into place, and a
part before its manifest, so a kill leaves either nothing or a whole
file. A folder that holds parts but no valid stamp is refused (its parts
belong to an unknown study). A part is reused only when its manifest is
that of this study and the part's bytes, columns and scenario ids are
those recorded; any other part (truncated, empty, garbage, edited, of
another study, without a manifest) is logged as a warning, deleted, and
its scenarios run again. The scenarios left to run (:func:`unfinished`) and
the rows of the whole study (:func:`collect`) come from verified parts only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from twin.core.errors import InputError

log = logging.getLogger(__name__)

STAMP = "study.json"
PARTS = "parts"


def atomic_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` (Parquet) through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_stamp(folder: Path) -> tuple[dict | None, str]:
    """(the stamp, "") or (None, why there is no valid one)."""
    path = folder / STAMP
    if not path.is_file():
        return None, f"no {STAMP}"
    try:
        stamp = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return None, f"{STAMP} is unreadable: {str(exc).splitlines()[0]}"
    if not isinstance(stamp, dict) or not isinstance(stamp.get("fingerprint"), str):
        return None, f"{STAMP} holds no study fingerprint"
    return stamp, ""


def _has_parts(folder: Path) -> bool:
    parts = folder / PARTS
    return parts.is_dir() and any(parts.glob("part-*"))


def open_folder(folder: Path, fingerprint: str, title: str, study: str, resume: bool,
                force: bool = False) -> None:
    """Check that ``folder`` may receive this study (one-line errors), then stamp it.

    Parts without a valid stamp, or of another study, are never reused; an
    earlier run of this study is finished only with ``resume``; ``force``
    removes an earlier run's parts, stamp and time series first.
    """
    from twin.orchestration.out_folder import check_out_folder, make_folder

    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file, not a folder")
    if force and resume:
        raise InputError("--force starts afresh and --resume finishes an earlier run: give one")
    if force:
        make_folder(folder, True, (STAMP,), (PARTS, "timeseries"))
    if not _has_parts(folder) and not resume:
        check_out_folder(folder, force)
    if _has_parts(folder):
        stamp, why = _read_stamp(folder)
        if stamp is None:
            raise InputError(f"{folder} holds what-if results of an unknown study ({why}): give "
                             "another --out, or delete the folder")
        if not resume:
            raise InputError(f"{folder} holds an earlier study run: add --resume to finish it, "
                             "--force to replace it, or give another --out")
        if stamp["fingerprint"] != fingerprint:
            raise InputError(f"{folder} holds a run of a different study (the study or a file "
                             "it uses changed): give another --out")
    (folder / PARTS).mkdir(parents=True, exist_ok=True)
    text = json.dumps({"fingerprint": fingerprint, "title": title, "study": study}, indent=1)
    atomic_bytes(text.encode(), folder / STAMP)


def write_part(folder: Path, rows: Sequence[dict], fingerprint: str, id_column: str) -> Path:
    """Write a finished chunk and its manifest (the part first: a part alone is not trusted)."""
    frame = pd.DataFrame(list(rows))
    ids = [int(i) for i in frame[id_column]]
    path = folder / PARTS / f"part-{min(ids):09d}.parquet"
    atomic_parquet(frame, path)
    manifest = {"fingerprint": fingerprint, "sha256": _sha256(path), "ids": ids,
                "columns": [str(c) for c in frame.columns]}
    atomic_bytes(json.dumps(manifest).encode(), path.with_suffix(".json"))
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, fingerprint: str, required: Sequence[str], id_column: str,
              known_ids: set[int]) -> tuple[pd.DataFrame | None, str]:
    """(the part's rows, "") when every check passes, else (None, why not)."""
    manifest_path = path.with_suffix(".json")
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except FileNotFoundError:
        return None, "it has no manifest (written before the manifest, or not by this study)"
    except (OSError, ValueError) as exc:
        return None, f"its manifest is unreadable ({str(exc).splitlines()[0]})"
    if not isinstance(manifest, dict) or not {"fingerprint", "sha256", "ids", "columns"} <= \
            set(manifest):
        return None, "its manifest is incomplete"
    if manifest["fingerprint"] != fingerprint:
        return None, "it belongs to another study"
    if path.stat().st_size == 0:
        return None, "it is empty"
    if _sha256(path) != manifest["sha256"]:
        return None, "its contents differ from those written (truncated or edited)"
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: run its scenarios again
        return None, f"it cannot be read ({type(exc).__name__})"
    missing = [c for c in required if c not in frame.columns]
    if missing or list(frame.columns) != manifest["columns"]:
        return None, f"its columns are wrong (missing: {', '.join(missing) or 'none'})"
    try:
        ids = [int(i) for i in frame[id_column]]
    except (TypeError, ValueError):
        return None, "its scenario ids are not whole numbers"
    if ids != manifest["ids"] or not set(ids) <= known_ids:
        return None, "its scenario ids are not those recorded"
    return frame, ""


def finished(folder: Path, fingerprint: str, required: Sequence[str], id_column: str,
             known_ids: set[int]) -> pd.DataFrame:
    """The rows of every verified part; a part that fails a check is deleted, with a warning."""
    frames = []
    parts = folder / PARTS
    for path in sorted(parts.glob("part-*.parquet")):
        frame, why = _verified(path, fingerprint, required, id_column, known_ids)
        if frame is None:
            log.warning("whatif: %s is not reused: %s; its scenarios run again", path, why)
            path.unlink(missing_ok=True)
            continue
        frames.append(frame)
    for manifest in parts.glob("part-*.json"):  # manifests whose part is gone (or just deleted)
        if not manifest.with_suffix(".parquet").exists():
            manifest.unlink(missing_ok=True)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def unfinished(folder: Path, fingerprint: str, table: pd.DataFrame, required: Sequence[str],
               id_column: str) -> list[dict]:
    """The scenarios of ``table`` (records, in its order) that no verified part holds."""
    done = finished(folder, fingerprint, required, id_column, set(map(int, table[id_column])))
    done_ids = set(done[id_column]) if not done.empty else set()
    return [r for r in table.to_dict("records") if r[id_column] not in done_ids]


def collect(folder: Path, fingerprint: str, table: pd.DataFrame, required: Sequence[str],
            id_column: str) -> pd.DataFrame:
    """The rows of every scenario of ``table`` from the verified parts, in scenario order.

    Anything but each scenario exactly once (a part lost or damaged since it
    was written) is a one-line error.
    """
    rows = finished(folder, fingerprint, required, id_column, set(map(int, table[id_column])))
    rows = rows.sort_values(id_column) if not rows.empty else rows  # a duplicate id is refused
    if rows.empty or list(rows[id_column]) != sorted(table[id_column]):
        raise InputError(f"{folder / PARTS} is inconsistent ({len(rows)} rows for {len(table)} "
                         "scenarios): run the study again into a new --out")
    return rows.reset_index(drop=True)
