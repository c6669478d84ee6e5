"""A normal install: the wheel, installed into a fresh virtual environment, works from any folder."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from test_cli import bbox_arg, moving_square, write_clip
from tracker import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project's wheel installed into a new virtual environment that reuses this one's packages
    (torch and the rest), so that only the wheel itself is new."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the package is made of: the build leaves its own files behind.
    for part in ("tracker", "configs", "videos"):
        shutil.copytree(ROOT / part, tmp / "src" / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, tmp / "src" / part)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(tmp / "src"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp / "dist").glob("siamtrack-*.whl")
    venv.create(tmp / "env", system_site_packages=True, with_pip=False)
    python = tmp / "env" / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return tmp / "env" / "bin"


def run(bin_dir, args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(bin_dir / "siamtrack"), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_the_installed_package_is_the_wheel_not_this_clone(installed, tmp_path):
    done = subprocess.run(
        [str(installed / "python"), "-c", "import tracker; print(tracker.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(installed.parent) in done.stdout


def test_version(installed, tmp_path):
    done = run(installed, ["--version"], tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"siamtrack {__version__}"


def test_the_demo_runs_from_any_folder(installed, tmp_path):
    done = run(installed, [], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs" / "demo" / "bunny_tracked.mp4").stat().st_size > 10_000
    assert len((tmp_path / "runs" / "demo" / "bunny_tracked.txt").read_text().splitlines()) == 116


def test_track_with_a_shipped_config_by_bare_name(installed, tmp_path):
    frames, box = moving_square(4)
    clip = write_clip(tmp_path / "clip.mp4", frames)
    done = run(
        installed,
        ["track", str(clip), "--bbox", bbox_arg(box), "--config", "siamfc_fast", "--boxes", "out.txt"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 4
    missing = run(
        installed, ["track", str(clip), "--bbox", bbox_arg(box), "--config", "nope", "--boxes", "x.txt"], tmp_path
    )
    assert missing.returncode == 2 and "siamfc_alexnet" in missing.stderr and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error:") and "siamtrack" not in missing.stderr.split(":")[0]


def test_ctrl_c_while_the_command_line_loads_is_no_traceback(installed, tmp_path):
    # The installed script itself, run with Ctrl-C arriving just as it imports tracker.cli (which
    # loads yaml, argparse and the rest: tens of milliseconds where a Ctrl-C lands).
    script = (
        "import runpy, sys\n"
        "class CtrlC:\n"
        "    def find_spec(self, name, *_):\n"
        "        if name == 'tracker.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        f"runpy.run_path({str(installed / 'siamtrack')!r}, run_name='__main__')\n"
    )
    done = subprocess.run(
        [str(installed / "python"), "-c", script, "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr
