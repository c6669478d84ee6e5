"""benchmarks/readme_table.py: a run's table put into the README between markers."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "readme_table.py")
ROW = {"auc": 0.5, "precision": 0.75, "norm_precision": 0.6, "ao": 0.5, "sr50": 0.55, "sr75": 0.25}


def run(*args, cwd):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=cwd)


def test_the_table_replaces_the_block_and_nothing_else(tmp_path):
    results = {"trackers": {"a": {**ROW, "fps": 10.0, "frames": 9}, "b": {**ROW, "auc": 0.7, "fps": 5.0, "frames": 9}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- dev-table:start -->\nold table\n<!-- dev-table:end -->\nafter\n")
    done = run("results.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = readme.read_text().splitlines()
    assert lines[:2] == ["intro", "<!-- dev-table:start -->"] and lines[-2:] == ["<!-- dev-table:end -->", "after"]
    assert "old table" not in lines
    rows = [line for line in lines if line.startswith("| a ") or line.startswith("| b ")]
    assert [r.split("|")[1].strip() for r in rows] == ["b", "a"]  # best AUC first
    assert "0.700" in rows[0] and "0.500" in rows[1]


def test_a_readme_without_the_block_is_a_one_line_error(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"trackers": {"a": {**ROW, "fps": 1.0, "frames": 1}}}))
    (tmp_path / "README.md").write_text("no markers\n")
    done = run("results.json", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "dev-table:start" in done.stderr
    assert (tmp_path / "README.md").read_text() == "no markers\n"


def test_a_longterm_json_gives_the_longterm_table(tmp_path):
    longterm = {
        "trackers": {
            "a": {"precision": 0.4, "recall": 0.3, "fscore": 0.343},
            "b": {"precision": 0.7, "recall": 0.6, "fscore": 0.646},
        }
    }
    (tmp_path / "longterm.json").write_text(json.dumps(longterm))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- longterm-table:start -->\n<!-- longterm-table:end -->\n")
    done = run("longterm.json", "--name", "longterm-table", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = readme.read_text().splitlines()
    assert lines[1] == "| tracker | precision | recall | F-score |"
    assert lines[3:5] == ["| b | 0.700 | 0.600 | 0.646 |", "| a | 0.400 | 0.300 | 0.343 |"]
