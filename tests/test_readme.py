"""The README's Python example must run as written."""

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_setup_commands():
    lines = [ln for ln in README.read_text().splitlines() if ln.strip()]
    commands = [ln for ln in lines if ln.startswith("make ")]
    assert [c.split()[1] for c in commands[:2]] == ["demo", "test"]


def test_readme_python_example_runs(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert "torch.Size([4, 12, 16])" in capsys.readouterr().out
