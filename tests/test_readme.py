"""The README's Python example runs as written and both of its loops follow the target alike."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_example_runs(monkeypatch, capsys):
    (example,) = python_blocks((ROOT / "README.md").read_text())
    monkeypatch.chdir(ROOT)  # the example opens videos/bunny.mp4 from the project's root
    names = {}
    exec(compile(example, "README.md", "exec"), names)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 116  # a line for every frame of the demo clip
    # The frame-by-frame loop ends where track() ended, before the last line's correct().
    np.testing.assert_allclose(names["box"], names["step"].box)
    assert names["tracker"].center.tolist() == [180, 170]
