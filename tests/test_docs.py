"""The repository is self-contained: every document the code, tests and README cite exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = {"mutation-report/report.md", "report.md"}
"""Documents the tools write (tools/mutation.py), not sources."""
CITING = ["README.md", "pyproject.toml", "docs", "src", "tests", "benchmarks", "fmus", "plant_models", "tools"]


def _cited() -> dict[str, list[str]]:
    """Markdown file names (``*.md``) cited anywhere in the sources, by who cites them."""
    cited: dict[str, list[str]] = {}
    for top in CITING:
        base = ROOT / top
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()
                                               and p.suffix in {".py", ".md", ".toml", ".c", ".h", ".pyx"}
                                               and "node_modules" not in p.parts]
        for path in files:
            for name in re.findall(r"[\w./-]*[A-Za-z0-9_]\.md\b", path.read_text(errors="replace")):
                cited.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return cited


def test_every_cited_document_exists():
    missing = {}
    for name, where in _cited().items():
        if name in GENERATED:
            continue
        stem = name.split("/")[-1]
        if not ((ROOT / name).is_file() or any(ROOT.glob(f"**/{stem}"))):
            missing[name] = where
    assert missing == {}


def test_architecture_and_conventions_are_documented():
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    for contract in ("Model API", "`ops` namespace", "Quality of readings", "Cycle store",
                     "exit statuses"):
        assert contract in architecture
    conventions = (ROOT / "docs" / "conventions.md").read_text()
    for rule in ("Units in brackets", "No `assert` for validation", "one line", "Domain(gt=0)"):
        assert rule in conventions
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
