"""``twin data inspect``: what a plant data file holds, and how much of it is bad."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``data`` (and ``data inspect``) to the CLI."""

    @cli.group()
    def data() -> None:
        """Plant data: historian exports (CSV, Parquet; wide or long form) and step-test logs."""

    @data.command("inspect")
    @click.argument("source", metavar="FILE|URL")
    @click.option("--tagmap", type=click.Path(path_type=Path), default=None, metavar="TAGS.toml",
                  help="Tag map: each tag's variable name, unit, scale and role.")
    @click.option("--time-unit", type=click.Choice(["s", "min", "h"]), default=None,
                  help="Unit of a numeric time column [default: s].")
    @click.option("--timezone", default=None, metavar="ZONE",
                  help="Zone of time stamps written without one, e.g. Europe/Berlin [default: UTC].")
    @click.option("--form", type=click.Choice(["wide", "long"]), default=None,
                  help="The file's form [default: detected from its columns].")
    @click.option("--gap-factor", type=click.FloatRange(min=0, min_open=True), default=None,
                  help="A gap is longer than this many sampling intervals [default: 5].")
    @click.option("--frozen-window", type=click.FloatRange(min=0, min_open=True), default=None,
                  metavar="SECONDS",
                  help="A value unchanged for longer is frozen [s; default: 20 intervals].")
    @click.option("--spike-sigmas", type=click.FloatRange(min=0, min_open=True), default=None,
                  help="Spike threshold in robust standard deviations [default: 5].")
    @click.option("--steady-window", type=click.IntRange(min=3), default=None, metavar="SAMPLES",
                  help="Samples per steady-state detector window [default: 30].")
    @click.option("--html", "html_out", type=click.Path(path_type=Path), default=None,
                  metavar="OUT.html", help="Write an HTML overview with trends.")
    @json_option
    def inspect(source, tagmap, time_unit, timezone, form, gap_factor, frozen_window,
                spike_sigmas, steady_window, html_out, as_json) -> None:
        """Print a plant data file's tags, units, ranges, sampling, gaps, bad data and steady
        periods.

        FILE is a CSV or Parquet file, wide (time, then a column per tag) or
        long (tag, time, value, quality); URL an OPC UA server with history,
        opc.tcp://[user@]host:port/path (password in TWIN_OPCUA_PASSWORD).
        The bad-data rules are applied as documented in docs/plant-data.md,
        each with a one-line report; the file itself is not changed.
        """
        from twin.core.data.summary import inspect_data
        from twin.orchestration.plant_data import load_plant_data as load_data  # + opc.tcp://

        options = {k: v for k, v in {"gap_factor": gap_factor, "frozen_window": frozen_window,
                                     "spike_sigmas": spike_sigmas,
                                     "steady_window": steady_window}.items() if v is not None}
        table = load_data(source, tagmap=tagmap, time_unit=time_unit, timezone=timezone,
                          form=form)
        result = inspect_data(table, **options)
        document = result.as_dict()
        if html_out is not None:
            from twin.orchestration.data_report import write_overview

            document["html"] = str(write_overview(result, html_out))
        emit(document, as_json, "\n".join(_lines(document)))


def _lines(document: dict) -> list[str]:
    from twin.orchestration.numbers import format_number

    interval = document["interval_s"]
    start = f" from {document['start']}" if document["start"] else ""
    lines = [f"{_printable(document['source'])}: {len(document['tags'])} tags, {document['samples']} time "
             f"stamps over {document['span_s']:.6g} s{start}",
             f"sampling: median {interval['median']:.4g} s (shortest {interval['min']:.4g} s, "
             f"longest {interval['max']:.4g} s; {interval['irregular_percent']:.3g} % of the "
             "intervals more than 1 % off the median)"]
    header = ("tag", "unit", "role", "samples", "missing", "min", "max", "interval[s]", "gaps",
              "bad", "frozen", "spikes")
    rows = [header]
    for t in document["tags"]:
        rows.append((_printable(t["name"]), _printable(t["unit"]), t["role"] or "-", str(t["samples"]), str(t["missing"]),
                     format_number(t["min"]), format_number(t["max"]),
                     f"{t['interval_s']:.4g}", str(t["gaps"]),
                     f"{t['bad_quality']} ({t['bad_quality_percent']:.2g} %)", str(t["frozen"]),
                     str(t["spikes"])))
    widths = [max(len(r[j]) for r in rows) for j in range(len(header))]
    lines += ["  " + "  ".join(c.ljust(w) if j < 3 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
    periods = document["steady_periods"]
    lines.append("steady periods: " + (", ".join(f"{p['start_s']:.6g}-{p['end_s']:.6g} s"
                                                for p in periods) or "none found"))
    lines.append("rules:")
    lines += [f"  {_printable(line)}" for line in document["reports"]]
    if "html" in document:
        lines.append(f"overview: {document['html']}")
    return lines


def _printable(text: str) -> str:
    """``text`` with control characters shown escaped (a tag name from a file must not drive
    the terminal)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
