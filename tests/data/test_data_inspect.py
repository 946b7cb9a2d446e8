"""``twin data inspect`` on the shipped historian export: text, JSON, HTML, one-line refusals."""

from __future__ import annotations

import base64
import json
import re

import pytest

from support import run_twin, the_error_line
from twin.orchestration.examples.catalog import catalog


@pytest.fixture(scope="module")
def example():
    examples = catalog()
    return str(examples["qt_history.csv"].path), str(examples["qt_tagmap.toml"].path)


def test_json_gives_every_figure_of_the_shipped_export(capsys, example):
    history, tagmap = example
    code, out, err = run_twin(capsys, "data", "inspect", history, "--tagmap", tagmap, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["start"] == "2026-11-30T07:00:00+00:00"
    assert doc["samples"] == 241 and doc["span_s"] == 1200.0
    assert doc["interval_s"] == {"median": 5.0, "min": 5.0, "max": 5.0, "irregular_percent": 0.0}
    tags = {t["name"]: t for t in doc["tags"]}
    assert list(tags) == ["h1", "h2", "v1", "v2"]
    assert [tags[n]["unit"] for n in tags] == ["cm", "cm", "V", "V"]
    assert [tags[n]["role"] for n in tags] == ["cv", "cv", "mv", "mv"]
    # what the export was made with: 5 Bad/Uncertain h1 samples, h1 stuck for 30 samples
    # (150 s; the first is kept), one spike in h2, 12 h2 samples missing (a 65 s gap)
    h1, h2 = tags["h1"], tags["h2"]
    assert (h1["bad_quality"], h1["frozen"], h1["spikes"]) == (5, 29, 0)
    assert (h2["bad_quality"], h2["frozen"], h2["spikes"], h2["missing"]) == (0, 0, 1, 12)
    assert h2["min"] == pytest.approx(11.868) and h2["max"] == pytest.approx(15.798)
    assert {(g["name"], g["start_s"], g["end_s"]) for g in doc["gaps"]} == {
        ("h1", 900.0, 1050.0), ("h2", 995.0, 1060.0)}
    assert [(p["start_s"], p["end_s"]) for p in doc["steady_periods"]] == [(0.0, 310.0),
                                                                         (550.0, 710.0)]
    assert doc["steady_periods"][0]["means"]["h1"] == pytest.approx(12.27, abs=0.02)
    assert [line.split(":")[0] for line in doc["reports"]] == [
        "time", "tag map", "quality", "frozen", "spikes", "gaps", "resample", "steady"]
    assert doc["reports"][2] == "quality: 5 of 952 values (0.53 %) Bad or Uncertain, set missing (h1 5)"


def test_text_and_html_overview(capsys, example, tmp_path):
    history, tagmap = example
    page = tmp_path / "overview" / "qt.html"
    code, out, err = run_twin(capsys, "data", "inspect", history, "--tagmap", tagmap, "--html",
                              str(page))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("qt_history.csv: 4 tags, 241 time stamps over 1200 s from "
                             "2026-11-30T07:00:00+00:00")
    row = next(line for line in lines if line.strip().startswith("h1 "))
    assert row.split() == ["h1", "cm", "cv", "241", "0", "12.12", "15.06", "5", "1", "5", "(2.1",
                           "%)", "29", "0"]
    assert "steady periods: 0-310 s, 550-710 s" in lines
    assert lines[-1] == f"overview: {page}"
    html = page.read_text()
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert png and base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "overview" / "qt-trends.png").is_file()
    assert "Bad or Uncertain, set missing (h1 5)" in html


@pytest.mark.parametrize("args, message", [
    (["nope.csv"], "plant data 'nope.csv': no such file"),
    (["{history}", "--tagmap", "missing.toml"], "configuration file 'missing.toml' not found"),
    (["{history}", "--timezone", "Europe/Berlin"], "plant data '{history}': the time stamps carry "
                                                   "their zones; leave out the time zone"),
    (["{history}", "--html", "{tmp}/out.txt"], "--html {tmp}/out.txt: give a file name ending in "
                                               ".html"),
    (["{history}", "--spike-sigmas", "0"], "Invalid value for '--spike-sigmas': 0.0 is not in the "
                                           "range x>0."),
])
def test_refusals_are_one_line_with_status_2(capsys, example, tmp_path, args, message):
    history, _ = example
    fill = {"history": history, "tmp": tmp_path}
    code, out, err = run_twin(capsys, "data", "inspect", *[a.format(**fill) for a in args])
    assert code == 2 and out == ""
    assert the_error_line(err) == f"twin: error: {message.format(**fill)}"


def test_a_file_of_one_row_is_inspected_not_refused(capsys, tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("time,a [cm],b\n0,1.5,\n")  # b: no value at all
    code, out, err = run_twin(capsys, "data", "inspect", str(one), "--json", "--html",
                              str(tmp_path / "one.html"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["samples"] == 1 and doc["tags"][0]["min"] == 1.5 and doc["tags"][0]["unit"] == "cm"
    assert "frozen: fewer than two samples; nothing checked" in doc["reports"]
    assert doc["reports"][-1] == "steady: fewer samples than a window of 30; not checked"
    assert doc["tags"][1]["samples"] == 0 and (tmp_path / "one-trends.png").is_file()
