"""An unknown economics says how to write an economics file; the README's example loads."""

from __future__ import annotations

import re
from pathlib import Path


from rto.economics import load_economics
from support import run_twin

README = Path(__file__).parents[2] / "README.md"


def test_rto_of_a_model_without_shipped_economics_says_how_to_write_them(capsys):
    code, out, err = run_twin(capsys, "rto", "quadruple_tank")
    assert code == 2 and out == ""
    line = err.strip()
    assert line.startswith("twin: error: no economics are shipped for model 'quadruple_tank': "
                           "write an economics file (a .toml file with model, unit, profit")
    assert "see README.md, 'Economics files'" in line
    assert line.endswith("and give it as --economics FILE.toml")
    example = Path(re.search(r"shipped example (\S+cstr\.toml)", line).group(1))
    assert load_economics(example).model == "cstr"  # the example it names exists and loads


def test_an_unknown_economics_name_lists_the_shipped_ones_and_the_file_form(capsys):
    code, _, err = run_twin(capsys, "rto", "cstr", "--economics", "cstrr")
    assert code == 2
    assert err.startswith("twin: error: unknown economics 'cstrr' (did you mean 'cstr'?); "
                          "valid: cstr, tennessee_eastman, williams_otto; or give the path of an economics file: ")


def test_the_readme_economics_example_loads_and_optimises(tmp_path, capsys):
    section = README.read_text().split("### Economics files", 1)[1]
    text = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "mine.toml"
    path.write_text(text)
    spec = load_economics(path)
    assert spec.model == "cstr" and spec.unit == "EUR/h" and spec.prices["p_B"] == 1.0
    code, out, err = run_twin(capsys, "rto", "cstr", "--economics", str(path))
    assert code == 0, err
    assert re.search(r"profit \d", out)
