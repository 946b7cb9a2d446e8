"""A seeded industrial-size plant of first- and second-order-plus-dead-time pairs (40 MVs x 80 CVs).

What an identified APC model of a large unit looks like: each CV moved by a
few MVs, every MV moving a few CVs, gains, lags and dead times spread
over what a plant shows, a few integrating CVs (levels). The structure:

* the plant is a chain of sections; MV ``j`` is the **primary** handle of
  CVs ``2j`` and ``2j + 1`` (scaled gain of magnitude ``e^N(0, 0.4)``,
  random sign), so every MV moves CVs and the gain matrix has full rank;
* each CV has 1 to 5 more MVs (2 to 6 in all, fewer more likely) drawn
  from its own section and the one upstream (MVs ``j - 4 .. j + 2``), with
  scaled gains of 0.1 to 0.5 (interactions);
* lags: primary ``tau1`` log-uniform on 2 to 30 min, interactions 5 to
  40 min; 60 % of the pairs second order with ``tau2 = (0.1 .. 0.4) tau1``;
  dead times 0 for a quarter of the pairs, else ``(0.05 .. 0.6) tau1``, at
  most 15 min, rounded to 30 s (half the 60 s sample time: some dead times
  are not whole samples);
* ``n_integrating`` CVs are levels (``percent``): two MVs each, an inflow and
  an outflow of opposite sign, a full MV range moving the level over its
  range in 20 to 60 min, a lag of 1 to 5 min;
* gains in engineering units: scaled gain times the CV's range over the
  MV's range (CVs: temperatures [degC], pressures [bar], compositions
  [percent], flows [t/h]; MVs: flows [t/h], valve positions [percent],
  duties [MW]).

Numbers are rounded (gains to 4 significant digits, lags to 1 s) so the
file reads well and is the same on every platform. Each pair's Padé order
(:mod:`apc.ident.tf_model`) is chosen here and written in the file, so
loading it chooses nothing; the largest step-response error of those
realisations is in the provenance. The **condition
number** of the scaled steady-state gain matrix of the self-regulating CVs
(78 x 40 by default) is in the result and in the file's provenance.

``python -m apc.ident.pair_plant FOLDER`` writes the shipped example
(``pairs_40x80.toml``, the model, and ``pairs_40x80_controller.toml``, its
linear controller; :mod:`apc.ident.pair_plant_spec`);
``tests/ident/test_pair_plant.py`` regenerates both and checks they are
identical to the shipped ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apc.ident.tf_file import Pair, TransferFunctionFile
from apc.ident.tf_model import choose_pade
from twin.core.errors import InputError


SEED = 15
"""Seed of the shipped example."""

SAMPLE_TIME = 60.0
"""Nominal sample time of the shipped example [s]."""

CV_KINDS = (("T", "degC", 10.0, (80.0, 350.0)), ("P", "bar", 2.0, (2.0, 20.0)),
            ("A", "percent", 5.0, (5.0, 95.0)), ("F", "t/h", 20.0, (20.0, 200.0)))
"""CV kinds: tag letter, unit, typical range (the scale of the gains), operating-point span."""

LEVEL = ("L", "percent", 20.0, (40.0, 60.0))
"""The kind of an integrating CV."""

MV_KINDS = (("FC", "t/h", 10.0, (20.0, 200.0)), ("HV", "percent", 20.0, (30.0, 70.0)),
            ("QC", "MW", 2.0, (2.0, 20.0)))
"""MV kinds: tag letters, unit, typical range, operating-point span."""


@dataclass(frozen=True)
class PairPlant:
    """A generated plant and what goes with it.

    Attributes
    ----------
    model : TransferFunctionFile
        The plant as an identified model in transfer-function form.
    cv_ranges, mv_ranges : numpy.ndarray
        Typical span of each CV and MV [their units]: the scale of the gains.
    condition_number : float
        Of the scaled steady-state gain matrix of the self-regulating CVs [-].
    """

    model: TransferFunctionFile
    cv_ranges: np.ndarray
    mv_ranges: np.ndarray
    condition_number: float

    def scaled_gains(self) -> np.ndarray:
        """Steady-state gains over CV range times MV range, self-regulating CVs only, (p', m)."""
        tf = self.model
        rows = [i for i, y in enumerate(tf.outputs) if y not in tf.integrating_outputs]
        scaled = tf.gain_matrix() / self.cv_ranges[:, None] * self.mv_ranges[None, :]
        return scaled[rows]


def pair_plant(n_mv: int = 40, n_cv: int = 80, seed: int = SEED, dt: float = SAMPLE_TIME,
               n_integrating: int = 2, name: str | None = None) -> PairPlant:
    """The seeded plant of ``n_mv`` MVs and ``n_cv`` CVs (module docstring: how).

    Parameters
    ----------
    n_mv, n_cv : int
        Sizes, ``n_cv >= n_mv`` (every MV is the primary handle of ``n_cv / n_mv`` CVs).
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    dt : float
        Nominal sample time [s] written in the file.
    n_integrating : int
        Number of integrating CVs (levels), at most ``n_cv / 4``.
    name : str, optional
        Model name; default ``pairs_<n_mv>x<n_cv>``.
    """
    for what, value, low in (("n_mv", n_mv, 1), ("n_cv", n_cv, 2), ("n_integrating", n_integrating, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"pair plant: {what} = {value!r} must be a whole number >= {low}")
    if n_cv < n_mv:
        raise InputError(f"pair plant: n_cv = {n_cv} must be at least n_mv = {n_mv} (every MV is "
                         "the primary handle of a CV)")
    if n_integrating > n_cv // 4:
        raise InputError(f"pair plant: n_integrating = {n_integrating} must be at most n_cv / 4 "
                         f"= {n_cv // 4}")
    rng = np.random.default_rng(seed)
    mv_kind = [MV_KINDS[k % len(MV_KINDS)] for k in rng.permutation(n_mv)]
    inputs = tuple(f"{kind[0]}{j + 1:02d}" for j, kind in enumerate(mv_kind))
    mv_ranges = np.array([kind[2] for kind in mv_kind])
    u0 = np.array([_nice(rng.uniform(*kind[3])) for kind in mv_kind])
    levels = set(_level_rows(n_cv, n_integrating))
    cv_kind = [LEVEL if i in levels else CV_KINDS[int(rng.integers(len(CV_KINDS)))]
               for i in range(n_cv)]
    outputs = tuple(f"{kind[0]}{i + 1:02d}" for i, kind in enumerate(cv_kind))
    cv_ranges = np.array([kind[2] for kind in cv_kind])
    y0 = np.array([_nice(rng.uniform(*kind[3])) for kind in cv_kind])
    pairs = []
    for i in range(n_cv):
        if i in levels:
            pairs += _level_pairs(rng, i, n_mv, outputs, inputs, cv_ranges, mv_ranges)
        else:
            pairs += _cv_pairs(rng, i, n_mv, outputs, inputs, cv_ranges, mv_ranges)
    model = TransferFunctionFile(
        name=name or f"pairs_{n_mv}x{n_cv}", dt=float(dt), inputs=inputs, outputs=outputs,
        input_units=tuple(kind[1] for kind in mv_kind),
        output_units=tuple(kind[1] for kind in cv_kind), u0=u0, y0=y0, pairs=tuple(pairs))
    plant = PairPlant(model, cv_ranges, mv_ranges, math.nan)
    sigma = np.linalg.svd(plant.scaled_gains(), compute_uv=False)
    cond = float(sigma[0] / sigma[-1]) if sigma[-1] > 0 else math.inf
    choices = [choose_pade(pair.transfer(), float(dt)) for pair in pairs]
    pairs = [dataclasses.replace(pair, pade_order=choice.order)
             for pair, choice in zip(pairs, choices)]
    provenance = {
        "method": "generated", "generator": "python -m apc.ident.pair_plant", "seed": seed,
        "scaled_condition_number": _significant(cond, 4),
        "largest_pade_step_error": _significant(max(c.error for c in choices), 3),
        "note": "CV and MV ranges (the gain scale): see the controller file of the example",
    }
    model = TransferFunctionFile(**{**_fields(model), "pairs": tuple(pairs),
                                    "provenance": provenance})
    return PairPlant(model, cv_ranges, mv_ranges, cond)


def _level_rows(n_cv: int, n_integrating: int) -> list[int]:
    """Rows of the level CVs: spread over the plant, on the second CV of a section."""
    if n_integrating == 0:
        return []
    return [int(round((k + 0.5) * n_cv / n_integrating)) // 2 * 2 + 1 for k in range(n_integrating)]


def _primary(i: int, n_mv: int, n_cv: int) -> int:
    """The MV that is CV ``i``'s primary handle (CVs ``2j, 2j + 1`` for MV ``j`` at 40 x 80)."""
    return i * n_mv // n_cv


def _cv_pairs(rng, i, n_mv, outputs, inputs, cv_ranges, mv_ranges) -> list[Pair]:
    primary = _primary(i, n_mv, len(outputs))
    count = int(rng.choice([2, 3, 4, 5, 6], p=[0.3, 0.3, 0.2, 0.12, 0.08]))
    window = [j for j in range(primary - 4, primary + 3) if 0 <= j < n_mv and j != primary]
    others = sorted(rng.choice(window, size=min(count - 1, len(window)), replace=False).tolist())
    pairs = []
    for j in [primary, *others]:
        main = j == primary
        size = math.exp(rng.normal(0.0, 0.4)) if main else rng.uniform(0.1, 0.5)
        scaled = size * (1.0 if rng.random() < 0.5 else -1.0)
        tau1 = math.exp(rng.uniform(math.log(120.0 if main else 300.0),
                                    math.log(1800.0 if main else 2400.0)))
        lags = (round(tau1),)
        if rng.random() < 0.6:
            lags = (round(tau1), max(1, round(tau1 * rng.uniform(0.1, 0.4))))
        theta = 0.0 if rng.random() < 0.25 else min(900.0, tau1 * rng.uniform(0.05, 0.6))
        pairs.append(Pair(outputs[i], inputs[j],
                          _significant(scaled * cv_ranges[i] / mv_ranges[j], 4),
                          tuple(float(t) for t in lags), 30.0 * round(theta / 30.0)))
    return sorted(pairs, key=lambda p: inputs.index(p.mv))


def _level_pairs(rng, i, n_mv, outputs, inputs, cv_ranges, mv_ranges) -> list[Pair]:
    inflow = _primary(i, n_mv, len(outputs))
    outflow = min(inflow + 1, n_mv - 1) if inflow + 1 < n_mv else inflow - 1
    pairs = []
    for j, sign in ((inflow, 1.0), (outflow, -1.0)):
        rate = 1.0 / rng.uniform(1200.0, 3600.0)         # ranges per range per second
        lag = round(rng.uniform(60.0, 300.0))
        theta = 30.0 * round(rng.uniform(0.0, 120.0) / 30.0)
        pairs.append(Pair(outputs[i], inputs[j],
                          _significant(sign * rate * cv_ranges[i] / mv_ranges[j], 4),
                          (float(lag),), theta, integrating=True))
    return sorted(pairs, key=lambda p: inputs.index(p.mv))


def _nice(value: float) -> float:
    return round(float(value), 1)


def _significant(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits - 1}e}")


def _fields(model: TransferFunctionFile) -> dict:
    return {k: getattr(model, k) for k in model.__dataclass_fields__}


def write_example(folder: str | Path) -> list[Path]:
    """Write the shipped example (model and controller files) into ``folder``; returns the paths."""
    from apc.ident.pair_plant_spec import controller_toml

    folder = Path(folder)
    plant = pair_plant()
    model_path = plant.model.save(folder / f"{plant.model.name}.toml")
    spec_path = folder / f"{plant.model.name}_controller.toml"
    spec_path.write_text(controller_toml(plant, f"./{model_path.name}"), encoding="utf-8")
    return [model_path, spec_path]


def main(argv: list[str] | None = None) -> None:
    """``python -m apc.ident.pair_plant FOLDER``: write the shipped example files."""
    parser = argparse.ArgumentParser(prog="python -m apc.ident.pair_plant",
                                     description=write_example.__doc__)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    for path in write_example(args.folder):
        print(path)  # the command's output: the files written


if __name__ == "__main__":
    main()
