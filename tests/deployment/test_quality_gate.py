"""The gateway's quality gate on real asyncua DataValues, without a server.

Every value the deployed loop reads passes ``gate`` (numbers), ``gate_text``
(loop modes) or ``gate_count`` (counters): the status class, a null value,
the wrong type and a non-finite number each make a Bad sample or ``None``;
a good number is converted to model units as scale * value + offset.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from asyncua import ua

from twin.core.quality import Quality
from twin.orchestration.opcua.gateway import gate, gate_count, gate_text

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _dv(value, vtype=None, status: str = "Good"):
    variant = ua.Variant() if value is None else ua.Variant(value, vtype) if vtype else \
        ua.Variant(value)
    return ua.DataValue(Value=variant, StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
                        ServerTimestamp=NOW)


@pytest.mark.parametrize("dv,quality,status", [
    (_dv(12.5, ua.VariantType.Double), Quality.GOOD, "Good"),
    (_dv(7, ua.VariantType.Int32), Quality.GOOD, "Good"),
    (_dv(12.5, ua.VariantType.Double, "UncertainLastUsableValue"), Quality.UNCERTAIN,
     "UncertainLastUsableValue"),
])
def test_usable_numbers_keep_their_quality_and_are_scaled(dv, quality, status):
    sample = gate(dv, scale=2.0, offset=10.0)
    assert sample.quality is quality and sample.status == status
    assert sample.value == 2.0 * dv.Value.Value + 10.0
    assert sample.server_time == NOW
    assert sample.good is (quality is Quality.GOOD)


@pytest.mark.parametrize("dv,why", [
    (_dv(12.5, ua.VariantType.Double, "BadCommunicationError"), "BadCommunicationError"),
    (_dv(None), "Good, null value"),
    (_dv("12.5", ua.VariantType.String), "Good, not a number (str)"),
    (_dv(True, ua.VariantType.Boolean), "Good, not a number (bool)"),
    (_dv(math.nan, ua.VariantType.Double), "Good, not finite"),
    (_dv(math.inf, ua.VariantType.Double), "Good, not finite"),
    (_dv(1e308, ua.VariantType.Double), "Good, not finite"),  # 2 * 1e308 overflows
    (_dv(10 ** 400, ua.VariantType.Int64), "Good, not finite"),  # no float that large
    (None, "no value returned"),
])
def test_unusable_values_are_bad_samples_with_the_reason(dv, why):
    sample = gate(dv, scale=2.0, offset=10.0)
    assert sample.quality is Quality.BAD and not sample.good
    assert math.isnan(sample.value)
    assert sample.status == why
    assert sample.server_time == (None if dv is None else NOW)   # when the server said it


def test_without_a_conversion_a_usable_number_is_taken_as_it_is():
    assert gate(_dv(12.5, ua.VariantType.Double)).value == 12.5


def test_loop_modes_and_counters_pass_their_own_gates():
    assert gate_text(_dv("cascade", ua.VariantType.String)) == "CASCADE"
    assert gate_text(_dv("CASCADE", ua.VariantType.String, "BadCommunicationError")) is None
    assert gate_text(_dv(None)) is None and gate_text(_dv(3.0, ua.VariantType.Double)) is None
    assert gate_text(None) is None
    assert gate_count(_dv(41, ua.VariantType.UInt32)) == 41
    assert gate_count(_dv(0, ua.VariantType.UInt32)) == 0
    for dv in (_dv(41, ua.VariantType.UInt32, "UncertainLastUsableValue"), _dv(None),
               _dv(-1, ua.VariantType.Int32), _dv(True, ua.VariantType.Boolean),
               _dv(4.0, ua.VariantType.Double), None):
        assert gate_count(dv) is None
