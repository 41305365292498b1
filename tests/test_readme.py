"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_python_example_runs(capsys):
    blocks = python_blocks()
    assert blocks, "README.md has no ```python example"
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert "spheredisperser__dispersion_weight" in printed


def test_readme_commands_are_the_scripts_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert "bash scripts/demo" in text and "bash scripts/test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test" in ci


def test_readme_shows_a_real_demo_table():
    text = README.read_text(encoding="utf-8")
    assert "<!-- DEMO-TABLE -->" not in text, "paste the demo's output table"
    assert "| | before | after |" in text  # the header demo.format_table prints
    for label in ("min angle (deg)", "WordSim-353 Spearman", "hubness skewness"):
        assert label in text
