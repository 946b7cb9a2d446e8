"""Reading plant data: CSV and Parquet, wide and long form, time stamps, tag maps, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twin.core.data import load_data
from twin.core.data.table import BAD, GOOD, UNCERTAIN
from twin.core.errors import InputError

WIDE = "time,h1 [cm],v1 [V]\n0,12.0,3.0\n1,12.5,3.0\n2,13.0,3.5\n"
LONG = """tag,time,value,quality
h1 [cm],0,12.0,Good
v1 [V],0,3.0,Good
h1 [cm],1,12.5,Bad_SensorFailure
v1 [V],1,3.0,0x40940000
h1 [cm],2,13.0,UncertainLastUsableValue
v1 [V],2,3.5,2150891520
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_wide_csv_reads_as_before(tmp_path):
    data = load_data(_write(tmp_path, "w.csv", WIDE))
    assert data.names == ["h1", "v1"]
    assert data.units == {"h1": "cm", "v1": "V"}
    assert data.time.tolist() == [0.0, 1.0, 2.0]
    assert data.values(["h1"]).ravel().tolist() == [12.0, 12.5, 13.0]
    assert data.start is None and data.quality is None
    assert data.reports[0] == ("time: numeric time in s; 0 of 3 rows out of time order, sorted; "
                               "0 with a repeated time dropped, the last kept")


def test_long_form_is_detected_and_carries_quality(tmp_path):
    data = load_data(_write(tmp_path, "l.csv", LONG))
    assert data.names == ["h1", "v1"] and data.units == {"h1": "cm", "v1": "V"}
    assert data.values(["h1", "v1"]).tolist() == [[12.0, 3.0], [12.5, 3.0], [13.0, 3.5]]
    # text names by their first word; numeric OPC UA status codes by their two top bits
    assert data.quality["h1"].tolist() == [GOOD, BAD, UNCERTAIN]
    assert data.quality["v1"].tolist() == [GOOD, UNCERTAIN, BAD]


def test_parquet_gives_the_same_table_as_csv_in_both_forms(tmp_path):
    for name, text in (("w", WIDE), ("l", LONG)):
        csv = _write(tmp_path, f"{name}.csv", text)
        pq = tmp_path / f"{name}.parquet"
        pd.read_csv(csv).to_parquet(pq)
        a, b = load_data(csv), load_data(pq)
        pd.testing.assert_frame_equal(a.frame, b.frame)
        assert a.units == b.units


def test_time_stamps_with_zones_become_utc_seconds_since_the_first(tmp_path):
    text = ("tag,timestamp,value\n"
            "h1,2026-11-30T08:00:10+01:00,2.0\n"
            "h1,2026-11-30T07:00:00Z,1.0\n"
            "h1,2026-11-30T02:00:20-05:00,3.0\n")
    data = load_data(_write(tmp_path, "z.csv", text))
    assert data.start == pd.Timestamp("2026-11-30T07:00:00", tz="UTC")
    assert data.time.tolist() == [0.0, 10.0, 20.0]
    assert data.values(["h1"]).ravel().tolist() == [1.0, 2.0, 3.0]
    assert data.reports[0].startswith("time: time stamps with zones, converted to UTC; 1 of 3 "
                                      "samples out of time order, sorted")


def test_stamps_without_zone_are_read_in_the_given_zone(tmp_path):
    text = "time,h1\n2026-07-01 08:00:00,1\n2026-07-01 08:00:30,2\n"
    data = load_data(_write(tmp_path, "n.csv", text), timezone="Europe/Berlin")
    assert data.start == pd.Timestamp("2026-07-01T06:00:00", tz="UTC")  # summer time, +02:00
    assert data.time.tolist() == [0.0, 30.0]
    assert "read as Europe/Berlin" in data.reports[0]
    assert load_data(tmp_path / "n.csv").start == pd.Timestamp("2026-07-01T08:00:00", tz="UTC")


def test_numeric_time_in_minutes_and_irregular_sampling_kept(tmp_path):
    data = load_data(_write(tmp_path, "m.csv", "time,h1\n0,1\n0.5,2\n2,3\n"), time_unit="min")
    assert data.time.tolist() == [0.0, 30.0, 120.0]


def test_unsorted_rows_are_sorted_and_a_repeated_time_keeps_the_last(tmp_path):
    text = "time,h1\n0,1\n2,3\n1,2\n2,4\n3,5\n"
    data = load_data(_write(tmp_path, "u.csv", text))
    assert data.time.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert data.values(["h1"]).ravel().tolist() == [1.0, 2.0, 4.0, 5.0]
    assert data.reports[0] == ("time: numeric time in s; 1 of 5 rows out of time order, sorted; "
                               "1 with a repeated time dropped, the last kept")


TAGMAP = """
[tags.TI1]
variable = "T_R"
unit = "degC"
to_unit = "K"
role = "cv"

[tags.LI1]
variable = "h1"
unit = "cm"
scale = 0.2
offset = 1.0
role = "cv"

[tags.FI1]
variable = "F"
unit = "m3/h"
to_unit = "L/h"
role = "mv"
"""


def test_tag_map_renames_scales_then_converts_units(tmp_path):
    data = load_data(_write(tmp_path, "t.csv", "time,TI1,LI1,FI1,XX9\n0,100,50,2,7\n1,0,0,0.5,7\n"),
                     tagmap=_write(tmp_path, "map.toml", TAGMAP))
    assert data.names == ["T_R", "h1", "F"]
    assert data.units == {"T_R": "K", "h1": "cm", "F": "L/h"}
    assert data.roles == {"T_R": "cv", "h1": "cv", "F": "mv"}
    assert data.values(["T_R"]).ravel() == pytest.approx([373.15, 273.15])  # degC -> K, offset
    assert data.values(["h1"]).ravel() == pytest.approx([11.0, 1.0])  # 0.2 * raw + 1.0
    assert data.values(["F"]).ravel() == pytest.approx([2000.0, 500.0])
    assert data.reports[1] == "tag map: 3 tags read as variables; 1 not in the map dropped (XX9)"


def test_units_wanted_by_a_model_are_converted(tmp_path):
    data = load_data(_write(tmp_path, "w.csv", "time,T [degC],h [mm]\n0,90,123\n"),
                     units={"T": "K", "h": "cm"})
    assert data.values(["T", "h"]).ravel() == pytest.approx([363.15, 12.3])
    assert data.units == {"T": "K", "h": "cm"}
    assert "units: T converted from degC to K" in data.reports


@pytest.mark.parametrize("text, kwargs, message", [
    (None, {}, "plant data '{d}/nope.csv': no such file"),
    ("h1,time\n1,0\n", {}, "plant data '{f}': the first column must be 'time' (numbers or time "
                           "stamps); it is 'h1'"),
    ("time\n0\n1\n", {}, "plant data '{f}': no column besides 'time'; give a column per tag"),
    ("time,h1\n0,1\n1,x\n", {}, "plant data '{f}': column 'h1' row 2: 'x' is not a finite "
                                "number (leave a missing value empty)"),
    ("tag,time,value\nh1,0,1\nh1,1,-inf\n", {}, "plant data '{f}': row 2: value '-inf' is not a "
                                               "finite number (leave a missing value empty)"),
    ("time,h1\n0,1\nyesterday,2\n", {}, "plant data '{f}': row 2: 'yesterday' is neither a number "
                                        "nor an ISO 8601 time stamp"),
    ("time,h1\n0,1\n", {"time_unit": "day"}, "plant data '{f}': time unit 'day' is not one of s, "
                                             "min, h"),
    ("time,h1\n2026-03-29 02:30:00,1\n", {"timezone": "Europe/Berlin"},
     "plant data '{f}': time stamp 2026-03-29 02:30:00 does not exist or is ambiguous in "
     "Europe/Berlin (a clock change); export the stamps with their offsets"),
    ("tag,time,value,quality\nh1,0,1,Fine\n", {}, "plant data '{f}': row 1: quality 'Fine' is "
     "neither Good, Uncertain, Bad (or a word starting so) nor an OPC UA status code"),
    ("tag,time,value,extra\nh1,0,1,2\n", {}, "plant data '{f}': unexpected column 'extra' in a "
                                             "long-form file (tag, time, value, quality)"),
    ("time,h1\n0,1\n", {"form": "long"}, "plant data '{f}': a long-form file needs a 'tag' column; "
                                         "columns are time, h1"),
    ("time,T [degC]\n0,1\n", {"units": {"T": "kg"}}, "plant data '{f}': 'T': values in degC cannot "
     "be converted to the declared unit kg ([temperature] is not [mass])"),
    ("time,T [degC]\n0,1\n", {"tagmap": "tags"}, "plant data '{f}': tag 'T': the file says [degC], "
                                                 "the tag map unit 'K'; make them agree"),
    ("time,Q\n0,1\n", {"tagmap": "tags"}, "plant data '{f}': none of the tag map's tags is in the "
                                          "data (tags: Q)"),
])
def test_every_bad_file_is_one_line(tmp_path, text, kwargs, message):
    path = tmp_path / "nope.csv" if text is None else _write(tmp_path, "bad.csv", text)
    if kwargs.get("tagmap") == "tags":
        kwargs = {"tagmap": _write(tmp_path, "m.toml", '[tags.T]\nunit = "K"\n')}
    with pytest.raises(InputError) as refused:
        load_data(path, **kwargs)
    assert str(refused.value) == message.format(d=tmp_path, f=path)


@pytest.mark.parametrize("toml, message", [
    ('[tags.T]\nunit = "degC"\nto_unit = "kg"\n', "tag map '{m}'.tags.T: unit 'degC': values in "
     "degC cannot be converted to the declared unit kg ([temperature] is not [mass])"),
    ('[tags.T]\nscale = 0\n', "tag map '{m}'.tags.T: scale: 0 would make every value the offset; "
                              "give the factor from raw values to the unit"),
    ('[tags.T]\nunit = "furlongs/fortnightx"\n', "tag map '{m}'.tags.T: unit: unit "
     "'furlongs/fortnightx' is not a known unit (write e.g. mol/L, kJ/(h m2 K), degC, - for none)"),
    ('[tags.A]\nvariable = "x"\n[tags.B]\nvariable = "x"\n', "tag map '{m}': tags.B: variable "
     "'x' is also tag 'A'; give each tag its own variable"),
    ('[tags.T]\nrole = "sp"\n', "tag map '{m}'.tags.T.role: 'sp' is not one of '', 'mv', 'cv', "
                                "'dv'"),
    ('[tags.T]\nscale = nan\n', "tag map '{m}'.tags.T.scale: expected a finite number, got nan"),
    ('[tags.T]\nunits = "K"\n', "tag map '{m}'.tags.T: unknown key 'units'; valid keys: variable, "
                                "unit, to_unit, scale, offset, role"),
    ('title = "x"\n', "tag map '{m}': tags: no tag given ([tags.NAME] tables)"),
])
def test_every_bad_tag_map_is_one_line(tmp_path, toml, message):
    data = _write(tmp_path, "d.csv", "time,T\n0,1\n")
    tagmap = _write(tmp_path, "m.toml", toml)
    with pytest.raises(InputError) as refused:
        load_data(data, tagmap=tagmap)
    assert str(refused.value) == message.format(m=tagmap)


def test_opc_ua_sources_are_refused_while_no_history_reader_is_registered(monkeypatch):
    from twin.core.data import load

    monkeypatch.delitem(load._READERS, "opc.tcp", raising=False)  # (the orchestration's)
    with pytest.raises(InputError) as refused:
        load_data("opc.tcp://127.0.0.1:4840")
    assert str(refused.value) == ("plant data 'opc.tcp://127.0.0.1:4840': reading OPC UA history is "
                                  "not supported yet; export the history to CSV and load that")


def test_the_shipped_example_reads_with_its_tag_map():
    from twin.orchestration.examples.catalog import catalog

    examples = catalog()
    assert examples["qt_history.csv"].kind == "data" and examples["qt_tagmap.toml"].kind == "tagmap"
    data = load_data(examples["qt_history.csv"].path, tagmap=examples["qt_tagmap.toml"].path)
    assert data.names == ["h1", "h2", "v1", "v2"] and len(data.time) == 241
    assert data.start == pd.Timestamp("2026-11-30T07:00:00", tz="UTC")
    assert np.nanmax(data.values(["h2"])) == pytest.approx(15.798)  # the spike, mm -> cm
    assert data.values(["h1"])[0, 0] == pytest.approx(0.2 * 61.489)  # % of span -> cm


def test_parquet_time_stamps_stored_as_stamps_or_as_the_index(tmp_path):
    stamps = pd.date_range("2026-11-30 08:00", periods=3, freq="10s", tz="Europe/Berlin")
    aware = tmp_path / "aware.parquet"
    pd.DataFrame({"time": stamps, "h1": [1.0, 2.0, 3.0]}).to_parquet(aware)
    data = load_data(aware)
    assert data.start == pd.Timestamp("2026-11-30T07:00:00", tz="UTC")
    assert data.time.tolist() == [0.0, 10.0, 20.0]
    assert data.reports[0].startswith("time: time stamps with zones, converted to UTC")
    naive = tmp_path / "naive.parquet"
    pd.DataFrame({"h1": [1.0, 2.0, 3.0]},
                 index=pd.Index(stamps.tz_localize(None), name="time")).to_parquet(naive)
    data = load_data(naive, timezone="America/New_York")
    assert data.start == pd.Timestamp("2026-11-30T13:00:00", tz="UTC")
    assert data.values(["h1"]).ravel().tolist() == [1.0, 2.0, 3.0]
    long = tmp_path / "long.parquet"
    pd.DataFrame({"tag": ["a", "a"], "time": stamps[:2], "value": [5.0, 6.0],
                  "quality": [0, 0x80000000]}).to_parquet(long)
    data = load_data(long)
    assert data.time.tolist() == [0.0, 10.0] and data.quality["a"].tolist() == [GOOD, BAD]


def test_a_registered_reader_serves_its_urls_like_a_long_form_file():
    from twin.core.data import load

    def history(url, where):
        return pd.DataFrame({"tag": ["h1 [mm]", "h1 [mm]"], "time": ["2026-11-30T07:00:01Z",
                                                                    "2026-11-30T07:00:00Z"],
                             "value": [120.0, 110.0], "quality": [0x80000000, 0]})

    load.register_reader("test.hist", history)
    try:
        data = load_data("test.hist://plant/history", units={"h1": "cm"})
    finally:
        del load._READERS["test.hist"]
    assert data.values(["h1"]).ravel() == pytest.approx([11.0, 12.0])
    assert data.quality["h1"].tolist() == [GOOD, BAD] and data.time.tolist() == [0.0, 1.0]
    with pytest.raises(InputError, match="sources test.hist:// are not read; give a CSV or Parquet"):
        load_data("test.hist://plant/history")
