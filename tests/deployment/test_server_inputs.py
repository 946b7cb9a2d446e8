"""Bad input to the simulated hardware and to ``twin trust``: one line, nothing non-finite served."""

from __future__ import annotations

import asyncio
import math

import pytest

from hil_support import _client, call, client_certificate, operator_call
from support import run_twin, the_error_line
from twin.core.errors import InputError
from twin.orchestration.opcua.faults import FaultEvent, FaultInjector


@pytest.mark.parametrize("content, reason", [
    (b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", "(Unable to load PEM file.)"),
    (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
     "(error parsing asn1 value)"),
    (b"\x30\x03\x02\x01\x05garbage", "(error parsing asn1 value)"),
    (b"", "(error parsing asn1 value)"),
])
def test_a_file_that_is_no_certificate_is_one_line(capsys, tmp_path, content, reason):
    cert = tmp_path / "peer.pem"
    cert.write_bytes(content)
    code, _, err = run_twin(capsys, "trust", "--cert", str(cert), "--config-dir",
                            str(tmp_path / "client"), "--yes")
    assert code == 2
    line = the_error_line(err)
    assert line.startswith(f"twin: error: --cert {cert}: not a DER or PEM certificate (")
    assert line.endswith(reason) and "Traceback" not in err
    assert not (tmp_path / "client" / "trusted").exists() or \
        not list((tmp_path / "client" / "trusted").iterdir())


def test_a_client_certificate_given_as_pem_is_trusted_by_the_server(capsys, tmp_path):
    """``twin trust --cert`` takes PEM too (stored as DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = client_certificate(tmp_path / "client").cert.read_bytes()
    pem = tmp_path / "client.pem"
    pem.write_bytes(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM))
    code, out, err = run_twin(capsys, "trust", "--cert", str(pem), "--config-dir",
                              str(tmp_path / "server"), "--yes")
    assert code == 0, err
    stored = list((tmp_path / "server" / "trusted").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == der


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_fault_values_must_be_finite_wherever_they_are_set(value):
    faults = FaultInjector(["h1"])
    with pytest.raises(InputError, match="fault drift on h1: value: expected a finite number"):
        faults.inject("h1", "drift", value, 0.0)
    assert faults.faults == {}
    with pytest.raises(InputError, match="fault.value: expected a finite number"):
        FaultEvent(time=1.0, kind="noise", tag="h1", value=value)
    with pytest.raises(InputError, match="fault.time: expected a finite number"):
        FaultEvent(time=value, kind="bad", tag="h1")
    with pytest.raises(InputError, match="fault.duration: expected a finite number"):
        FaultEvent(time=1.0, kind="bad", tag="h1", duration=value)


def test_non_finite_method_arguments_are_refused_and_logged(server_factory, tmp_path):
    from asyncua import ua

    server = server_factory()
    for method, args in (("InjectFault", ("h1", "drift", math.nan)),
                         ("InjectFault", ("h1", "noise", math.inf)),
                         ("SetLoopOutput", ("v1", -math.inf)),
                         ("SetLoopMode", ("v1", "TURBO"))):
        with pytest.raises(ua.UaStatusCodeError) as caught:
            asyncio.run(operator_call(server, method, *args))
        assert type(caught.value).__name__ == "BadInvalidArgument"
    asyncio.run(operator_call(server, "InjectFault", "h1", "drift", 0.5))  # finite: accepted
    log = server.log.read_text()
    assert "method call InjectFault refused: InjectFault: argument 3 is nan; expected a finite number" in log
    assert "method call InjectFault refused: InjectFault: argument 3 is inf; expected a finite number" in log
    assert "method call SetLoopOutput refused: SetLoopOutput: argument 2 is -inf; expected a finite number" in log
    assert "method call SetLoopMode refused: loop mode 'TURBO': use one of MANUAL, AUTO, " \
           "CASCADE" in log
    assert "Traceback" not in log


def test_a_value_that_is_not_finite_is_never_published_as_good(server_factory):
    """A drift of 1e308 per time unit (finite, so accepted) overflows a reading to inf within
    two time units: the server publishes it as BadOutOfRange, never as Good. The clock is
    virtual: the test reads what is published at every tick."""
    server = server_factory(clock="virtual")

    async def scenario():
        good = []
        async with _client(server, "operator") as client:
            await call(client, "InjectFault", "h1", "drift", 1e308)
            ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
            h1 = client.get_node(f"ns={ns};s=Plant.h1")
            for _ in range(40):
                await call(client, "Advance", 1.0)
                dv = await h1.read_data_value(raise_on_bad_status=False)
                if not dv.StatusCode.is_good():
                    return good, dv
                good.append(dv.Value.Value)
        raise AssertionError("the drift never overflowed")

    good, dv = asyncio.run(scenario())
    assert dv.StatusCode.name == "BadOutOfRange"
    assert dv.Value.Value is None or not math.isfinite(dv.Value.Value)
    # 1e308 * t on top of a level of 12 cm: finite up to t = 1.75, inf from t = 1.8 on
    assert len(good) == 7 and all(math.isfinite(v) for v in good) and max(good) > 1.7e308
    assert "Plant.h1 is not finite at t=2" in server.log.read_text()
