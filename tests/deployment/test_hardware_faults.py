"""What the simulated hardware publishes under its drift and noise faults.

The quadruple tank sits at its steady state (its base layer holds the
pumps), with a noise-free level sensor h1; the server's clock is virtual, so
the test steps the plant tick by tick and reads each published value:
a drift adds ``rate * (t - t0)`` exactly, a noise fault adds independent
Gaussian noise of the given standard deviation (within statistical bounds).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from scipy import stats

from hil_support import NAMESPACE, PLANT, _client, call

NOISE_FREE = PLANT.replace('name = "h1"\nnoise_std = 0.01', 'name = "h1"\nnoise_std = 0.0')
TICK = 0.25
"""Plant tick [s]."""


async def _published(server, ticks: int, before=None) -> list[tuple[float, float]]:
    """(plant time, published h1) after each of ``ticks`` single ticks; ``before(client)``
    first."""
    out = []
    async with _client(server, "operator") as client:
        ns = await client.get_namespace_index(NAMESPACE)
        h1, clock = (client.get_node(f"ns={ns};s={p}") for p in ("Plant.h1", "Diagnostics.Time"))
        if before is not None:
            await before(client)
        for _ in range(ticks):
            await call(client, "Advance", 1.0)
            out.append((await clock.read_value(), await h1.read_value()))
    return out


def test_a_drift_adds_its_rate_times_the_time_since_it_began(server_factory):
    assert NOISE_FREE != PLANT
    server = server_factory(clock="virtual", plant=NOISE_FREE, faults=(
        '[[fault]]\ntime = 2.0\nkind = "drift"\ntag = "h1"\nvalue = 0.3\nduration = 5.0\n'))
    series = asyncio.run(_published(server, 40))
    t = np.array([p[0] for p in series])
    h1 = np.array([p[1] for p in series])
    assert list(t) == pytest.approx([TICK * (k + 1) for k in range(40)], abs=1e-12)
    steady = h1[t <= 2.0]
    assert np.ptp(steady) < 1e-9  # the plant itself stands still
    level = steady.mean()
    # the drift starts with the tick from 2.0 and ends with the one from 7.0 (cleared)
    drifting = (t > 2.0) & (t <= 7.0)
    expected = np.where(drifting, level + 0.3 * (t - 2.0), level)
    assert np.max(np.abs(h1 - expected)) < 1e-9, np.c_[t, h1 - expected]
    assert h1[drifting].max() == pytest.approx(level + 0.3 * 5.0, abs=1e-9)


def test_a_noise_fault_adds_gaussian_noise_of_its_standard_deviation(server_factory):
    n, sigma = 400, 0.5
    server = server_factory(clock="virtual", plant=NOISE_FREE)
    (_, level), = asyncio.run(_published(server, 1))

    async def noisy(client):
        await call(client, "InjectFault", "h1", "noise", sigma)

    noise = np.array([v for _, v in asyncio.run(_published(server, n, noisy))]) - level
    # bounds a correct generator leaves once in a million runs
    z = stats.norm.ppf(1 - 0.5e-6)
    assert abs(noise.mean()) < z * sigma / np.sqrt(n), noise.mean()
    low, high = stats.chi2.ppf([0.5e-6, 1 - 0.5e-6], n - 1)
    assert low < (n - 1) * noise.var(ddof=1) / sigma ** 2 < high, noise.std(ddof=1)
    assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1]) < z / np.sqrt(n)  # a new draw per tick
    assert stats.shapiro(noise).pvalue > 1e-6  # Gaussian
