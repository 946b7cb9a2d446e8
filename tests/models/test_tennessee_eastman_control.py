"""The Tennessee Eastman process under Ricker's decentralized control, against the oracle under the same control.

The oracle is ``tep-studio``'s C simulator driven by its own implementation
of Ricker's (1996) Mode-1 controller (1.8 s samples, measurement noise off);
ours is the closed-loop model ``tennessee_eastman_ricker`` (continuous PI
laws, the same tuning), stepped by the compiled kernel. Runs are 8 h by
default; the 48 h runs are behind the ``slow`` marker.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
import pytest

from plant_models.tennessee_eastman_ricker import MODEL
from te_oracle import NO_NOISE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tennessee-eastman.md"
IDV_INPUTS = {0: {}, 1: {"idv_1": 1.0}, 2: {"idv_2": 1.0}, 4: {"T_cw_r_in": 40.0}, 6: {"idv_6": 1.0}}
"""Our inputs for IDV n as a step at t = 0 (IDV 4: reactor cooling water in at 35 + 5 degC)."""
COMPARED = ("stripper_underflow", "reactor_pressure", "reactor_level", "separator_level", "product_G")
"""XMEAS whose means over a run are compared (XMEAS 17, 7, 8, 12, 40)."""
ORACLE_INDEX = {"stripper_underflow": 16, "reactor_pressure": 6, "reactor_level": 7,
                "separator_level": 11, "stripper_level": 14, "product_G": 39}
"""0-based XMEAS index of each compared output in the oracle's measurement vector."""
RICKER = MODEL.with_parameters(override_stripper_gain=0.0)
"""The structure as Ricker (1996) published it and the oracle implements it: the shipped model
without its low-stripper-level override."""


def _oracle(hours: float, idv: int, seed: float | None = None) -> dict:
    """The oracle's closed loop from the base case: times, XMEAS, mean cost [USD/h], trip."""
    control = pytest.importorskip("tep_studio.control")
    tep = pytest.importorskip("tep_studio")
    plant = tep.TennesseeEastmanProcess(ms_flag=NO_NOISE)
    run = control.ClosedLoopSimulation(simulator=plant,
                                       controller=control.RickerMultiLoopController(enable_overrides=True),
                                       control_interval=0.0005, horizon=hours)
    disturbances = np.zeros(28)
    if idv:
        disturbances[idv - 1] = 1.0
    result = run.run(record_every=20, disturbances=disturbances, seed=seed)
    return {"t": np.array([r.time for r in result.results]),
            "y": np.array([r.measurements for r in result.results]),
            "disturbances": np.array([r.disturbance_monitors for r in result.results]),
            "cost": result.metrics["operating_cost_total"] / result.metrics["elapsed_hours"],
            "end": result.final_time, "tripped": result.terminated}


def _ours(hours: float, idv: int, model=RICKER, **inputs: float):
    from twin.core.simulation import simulate

    return simulate(model, hours, 0.01, inputs={**IDV_INPUTS[idv], **inputs})


def _means(result, oracle) -> dict[str, tuple[float, float]]:
    """Mean of each compared XMEAS over the oracle's times: (ours, the oracle's)."""
    out = {}
    for name in COMPARED:
        ours = np.interp(oracle["t"], result.t, result.y[:, MODEL.outputs.index(name)])
        out[name] = (float(ours.mean()), float(oracle["y"][:, ORACLE_INDEX[name]].mean()))
    return out


def _compare(hours: float, idv: int, cost_tolerance: float) -> None:
    oracle = _oracle(hours, idv)
    ours = _ours(hours, idv)
    assert not oracle["tripped"] and ours.event == "", ours.event
    cost = float(np.mean(ours.y[:, MODEL.outputs.index("operating_cost")]))
    assert cost == pytest.approx(oracle["cost"], rel=cost_tolerance), (cost, oracle["cost"])
    for name, (mine, theirs) in _means(ours, oracle).items():
        assert mine == pytest.approx(theirs, rel=0.005), (name, mine, theirs)


@pytest.mark.parametrize("idv", [0, 1])
def test_eight_hours_under_the_same_control_as_the_oracle(idv):
    """No shutdown; production, pressure, levels, product G within 0.5 % (measured: 0.04 %),
    mean cost within 0.5 % (measured: 178.62 and 231.66 USD/h, the oracle's 178.64 and 232.16:
    over 8 h of IDV 1 the trims' transient dominates it, and theirs read the sampled analysis,
    ours three lags)."""
    _compare(8.0, idv, cost_tolerance=0.005)


@pytest.mark.slow
@pytest.mark.parametrize("idv", [0, 1, 2, 4])
def test_forty_eight_hours_under_the_same_control_as_the_oracle(idv):
    """No shutdown in 48 h; the mean operating cost within 0.5 % of the oracle's (measured: 0.04 %)."""
    _compare(48.0, idv, cost_tolerance=0.005)


@pytest.mark.slow
@pytest.mark.parametrize("idv, cost", [(0, 169.48), (1, 170.71), (2, 266.05), (4, 169.48)])
def test_the_shipped_base_layer_runs_48_hours_without_shutdown(idv, cost):
    """The shipped layer (with its stripper override): 48 h without shutdown, production held at
    22.95 m3/h within 0.5 % on average, the mean cost as docs/tennessee-eastman.md reports it
    within 0.1 % (IDV 1 is where the override acts once: 170.71 $/h against 172.07 without it)."""
    run = _ours(48.0, idv, model=MODEL)
    assert run.event == "" and run.t[-1] == pytest.approx(48.0), run.event
    y = {name: run.y[:, MODEL.outputs.index(name)] for name in ("stripper_underflow", "operating_cost")}
    assert float(np.mean(y["stripper_underflow"])) == pytest.approx(22.95, rel=0.005)
    assert float(np.mean(y["operating_cost"])) == pytest.approx(cost, rel=0.001)


def test_without_the_stripper_override_idv_6_shuts_both_down_on_low_stripper_level_together():
    """A feed loss under Ricker's published structure (the low-stripper-level override off):
    neither this control nor the oracle's rides it out; the stripper empties at the same time."""
    oracle = _oracle(12.0, 6)
    ours = _ours(12.0, 6)
    assert oracle["tripped"] and "low stripper liquid level" in ours.event, ours.event
    assert oracle["y"][-1, ORACLE_INDEX["stripper_level"]] < 0  # its trip: stripper below 1 m3
    assert ours.t[-1] == pytest.approx(oracle["end"], rel=0.05), (ours.t[-1], oracle["end"])


def test_the_shipped_stripper_override_rides_out_idv_6_for_48_hours():
    """With the low-stripper-level override on the production index (shipped on), 48 h of A
    feed loss: no shutdown; the stripper keeps > 1.5 m3 of liquid (its limit 1 m3), the reactor
    stays below 2975 kPa (limit 3000); production falls to about a quarter (measured: stripper
    1.61 m3 at the lowest, pressure 2967.7 kPa at the highest, 6.25 m3/h at 48 h)."""
    run = _ours(48.0, 6, model=MODEL)
    assert run.event == "" and run.t[-1] == pytest.approx(48.0), run.event
    out = {name: run.y[:, MODEL.outputs.index(name)] for name in
           ("V_c_liquid", "reactor_pressure", "stripper_underflow", "production_index")}
    assert out["V_c_liquid"].min() > 1.5, out["V_c_liquid"].min()
    assert out["reactor_pressure"].max() < 2975.0, out["reactor_pressure"].max()
    assert 4.0 < out["stripper_underflow"][-1] < 9.0, out["stripper_underflow"][-1]
    assert out["production_index"][-1] < 50.0, out["production_index"][-1]


def _driven(hours: float, times: np.ndarray, columns: dict[str, np.ndarray]):
    """Our closed loop (the published structure) from the base case with the inputs of
    ``columns`` at their values from each of ``times`` [h] on (zero-order hold); no shutdown."""
    from twin.core.schedule import InputSchedule
    from twin.core.simulation import simulate

    values = np.tile(RICKER.u0(), (len(times), 1))
    for name, column in columns.items():
        values[:, RICKER.inputs.index(name)] = column
    run = simulate(RICKER, hours, 0.01, inputs=InputSchedule(values[0], times[1:], values[1:]))
    assert run.event == "", run.event
    return run


def _random_statistics(idv: int, seeds: int, hours: float):
    """Mean and standard deviation of XMEAS 1-22 after the first 2 h, averaged over ``seeds``
    runs with IDV ``idv`` (ours and the oracle's: each its own draws)."""
    from plant_models.tennessee_eastman.disturbances import signals

    ours, theirs = [], []
    for seed in range(seeds):
        oracle = _oracle(hours, idv, seed=1000.0 + 17 * seed)
        assert not oracle["tripped"]
        y = oracle["y"][oracle["t"] > 2.0, :22]
        theirs.append((y.mean(axis=0), y.std(axis=0)))
        times = np.arange(0.0, hours, 0.01)
        run = _driven(hours, times, signals({idv: 1.0}, times, seed=seed))
        y = run.y[run.t > 2.0, :22]
        ours.append((y.mean(axis=0), y.std(axis=0)))
    return [np.mean([s[k] for s in group], axis=0) for group in (ours, theirs) for k in (0, 1)]


REPLAYED = {8: (("x_AC_A", 0, 0.01), ("x_AC_B", 1, 0.01)), 9: (("T_D_feed", 3, 1.0),),
            10: (("T_AC_feed", 4, 1.0),), 11: (("T_cw_r_in", 5, 1.0),),
            12: (("T_cw_s_in", 6, 1.0),)}
"""For IDV n: our input, the column of the oracle's disturbance monitors that holds its value
(stream 4's A and B in mol %, temperatures in degC), and the factor to our unit."""
TRIM_FEEDS = (0, 3)
"""XMEAS 1 and 4 (A feed, A and C feed): the flows the two composition trims set."""


@functools.cache
def _replayed_run(idv: int, hours: float) -> tuple[np.ndarray, np.ndarray]:
    """XMEAS 1-22 from 2 h on of the oracle's run with IDV ``idv`` (0: none) and of ours driven
    by the oracle's own realisation of it (its disturbance monitors, every 0.01 h): (ours, the
    oracle's). Kept: every IDV's response is taken against the same undisturbed run."""
    oracle = _oracle(hours, idv, seed=1000.0)
    assert not oracle["tripped"]
    times = np.concatenate([[0.0], oracle["t"]])
    nominal = RICKER.u0()
    columns = {name: np.concatenate([[nominal[RICKER.inputs.index(name)]],
                                     oracle["disturbances"][:, column] * factor])
               for name, column, factor in REPLAYED.get(idv, ())}
    run = _driven(hours, times, columns)
    ours = np.array([np.interp(oracle["t"], run.t, run.y[:, k]) for k in range(22)]).T
    keep = oracle["t"] > 2.0
    return ours[keep], oracle["y"][keep, :22]


def _replayed(idv: int, hours: float):
    """:func:`_replayed_run` with IDV ``idv``, and each simulator's response to the disturbance
    alone (its run less its own run without disturbance): (ours, the oracle's, our response,
    the oracle's response)."""
    (ours, theirs), (ours_0, theirs_0) = _replayed_run(idv, hours), _replayed_run(0, hours)
    return ours, theirs, ours - ours_0, theirs - theirs_0


def test_the_oracles_idv_8_replayed_gives_its_statistics_short_form():
    """12 h of the oracle's own IDV 8 (A, B, C feed composition) draw through our closed loop:
    XMEAS 1-22 means within 1 % (measured: 0.42 %, the purge rate), standard deviations within
    5 % of the oracle's, of the runs and of the responses to the disturbance alike (measured:
    0.965-0.999)."""
    ours, theirs, response, their_response = _replayed(8, 12.0)
    assert np.all(np.abs(ours.mean(0) / theirs.mean(0) - 1) <= 0.01), ours.mean(0) / theirs.mean(0)
    for mine, their in ((ours, theirs), (response, their_response)):
        ratio = mine.std(0) / their.std(0)
        assert np.all(np.abs(ratio - 1) <= 0.05), ratio


@pytest.mark.slow
@pytest.mark.parametrize("idv", [8, 9, 10, 11, 12])
def test_the_oracles_random_disturbances_replayed_give_its_statistics_over_48_hours(idv):
    """48 h of the oracle's own draw of IDV ``idv`` through our closed loop, XMEAS 1-22 from
    2 h on. Means within 0.5 % (measured: 0.32 %); standard deviations of the runs within 5 %
    of the oracle's (measured: 0.969-1.007). Standard deviations of the response to the
    disturbance alone (the run less the same simulator's run without it) within 5 % (measured:
    0.969-1.002), except the two feeds the composition trims set, XMEAS 1 and 4, within 20 %
    (measured: 0.82-1.11 under IDV 9, 11, 12). Those responses are small, 0.5 to 23 % of the
    runs' own deviation, and up to a third of the oracle's lies at periods under an hour: its
    trims act on the analysis sampled every 0.1 h and hold it, ours read it through three lags."""
    ours, theirs, response, their_response = _replayed(idv, 48.0)
    assert np.all(np.abs(ours.mean(0) / theirs.mean(0) - 1) <= 0.005), ours.mean(0) / theirs.mean(0)
    assert np.all(np.abs(ours.std(0) / theirs.std(0) - 1) <= 0.05), ours.std(0) / theirs.std(0)
    ratio = response.std(0) / their_response.std(0)
    others = [k for k in range(22) if k not in TRIM_FEEDS]
    assert np.all(np.abs(ratio[others] - 1) <= 0.05), ratio
    assert np.all(np.abs(ratio[list(TRIM_FEEDS)] - 1) <= 0.2), ratio


@pytest.mark.slow
@pytest.mark.parametrize("idv", [9, 10, 11, 12])
def test_random_disturbance_statistics_over_48_hours(idv):
    """Six draws of 48 h each, ours and the oracle's each from its own generator: XMEAS 1-22
    means within 0.5 %, standard deviations within 10 % (measured: means within 0.05 %,
    deviations 0.962 to 1.063 of the oracle's). IDV 8 is not here: six independent draws of its
    slow composition walks are too few for its deviations (1.07 to 1.47 of the oracle's; the
    oracle's own draw replayed through ours gives 0.97-1.00, see above)."""
    mean, std, their_mean, their_std = _random_statistics(idv, 6, 48.0)
    assert np.all(np.abs(mean - their_mean) <= 0.005 * np.abs(their_mean)), mean / their_mean
    assert np.all(np.abs(std - their_std) <= 0.10 * their_std), std / their_std


def test_a_production_set_point_is_followed():
    """Production 22.95 -> 21 m3/h: within 0.5 % after 16 h, levels and pressure held, the
    feeds down with the production index."""
    run = _ours(16.0, 0, production_sp=21.0)
    start, end = (dict(zip(MODEL.outputs.names, row)) for row in (run.y[0], run.y[-1]))
    assert end["stripper_underflow"] == pytest.approx(21.0, rel=0.005)
    assert end["reactor_pressure"] == pytest.approx(2705.0, abs=5.0)
    assert end["reactor_level"] == pytest.approx(75.0, abs=1.0)
    assert end["separator_level"] == pytest.approx(50.0, abs=5.0)  # slow loops: 200 min resets
    assert end["stripper_level"] == pytest.approx(50.0, abs=5.0)
    ratio = end["production_index"] / 100.0  # 100 % at the base case
    assert ratio == pytest.approx(21.0 / 22.95, rel=0.01)
    assert end["D_feed"] / start["D_feed"] == pytest.approx(ratio, rel=0.002)  # ratio x index


def test_the_tuning_table_in_the_docs_is_the_one_the_model_reads():
    from plant_models.tennessee_eastman.decentralized import TUNING

    text = DOCS.read_text(encoding="utf-8").split("\n## Decentralized control tuning\n", 1)[1]
    rows = [[cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            for line in text.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    with TUNING.open(encoding="utf-8", newline="") as handle:
        table = [[r["key"], r["value"], r["unit"], r["source"], r["conversion"]]
                 for r in csv.DictReader(handle)]
    assert rows == table
