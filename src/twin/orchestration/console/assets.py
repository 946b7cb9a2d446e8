"""Where the console finds the browser libraries it serves (installed from its npm lock file).

``src/twin/orchestration/console/web/package-lock.json`` pins uPlot; ``npm ci
--prefix`` that folder (the README's install commands and ``.ci/run`` do, before
the Python package is installed, so a built package carries the files) puts it
in ``web/node_modules``. No CDN: the console works offline.
"""

from __future__ import annotations

from pathlib import Path

from twin.core.errors import InputError

WEB = Path(__file__).parent / "web"


def uplot_dist() -> Path:
    """The folder holding ``uPlot.iife.min.js`` and ``uPlot.min.css``."""
    dist = WEB / "node_modules" / "uplot" / "dist"
    if not (dist / "uPlot.iife.min.js").is_file() or not (dist / "uPlot.min.css").is_file():
        raise InputError(f"the console's chart library is not installed: run "
                         f"npm ci --prefix {WEB}, then install the package again")
    return dist
