"""Helpers of the what-if tests: study files written into the test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def write_study(tmp_path):
    """``write_study(text, name)``: a study file in the test's folder."""
    def write(text: str, name: str = "study.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
