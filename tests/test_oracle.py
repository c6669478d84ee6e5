import importlib.util
import os

import cv2
import numpy as np
import pytest

from tracker.build import build_tracker
from tracker.runner import track_sequence
from tracker.sequences import load_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMES = 10


def load_oracle():
    spec = importlib.util.spec_from_file_location("oracle", os.path.join(ROOT, "benchmarks", "oracle.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oracle = load_oracle()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A GOT-10k-layout sequence: a textured square that moves and grows over noise; frame 4 has no box."""
    root = tmp_path_factory.mktemp("oracle_data")
    rng = np.random.default_rng(1)
    background = rng.integers(0, 60, (160, 200, 3), dtype=np.uint8)
    pattern = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    folder = root / "square"
    folder.mkdir()
    lines = []
    for i in range(FRAMES):
        x, y, s = 30 + 5 * i, 40 + 2 * i, 36 + 2 * i
        frame = background.copy()
        frame[y : y + s, x : x + s] = cv2.resize(pattern, (s, s), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(folder / f"{i + 1:08d}.png"), frame)
        lines.append("nan,nan,nan,nan" if i == 4 else f"{x},{y},{s},{s}")
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (root / "list.txt").write_text("square\n")
    return root


@pytest.fixture(scope="module")
def sequence(dataset):
    return load_dataset(dataset)[0]


def oracle_boxes(sequence, mode):
    boxes, _, _ = track_sequence(oracle.Oracle(build_tracker(), sequence, mode), sequence)
    return boxes


def test_true_centre_given_keeps_the_centre_and_our_size(sequence):
    boxes, truth = oracle_boxes(sequence, "centre"), sequence.boxes
    visible = ~np.isnan(truth).any(axis=1)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    assert np.allclose(centre[visible], (truth[:, :2] + truth[:, 2:] / 2)[visible])
    # The size stays the tracker's own: the square grows 2 px a frame, a damped scale step does not match it.
    assert not np.allclose(boxes[visible, 2:], truth[visible, 2:])


def test_true_size_given_keeps_the_size(sequence):
    boxes, truth = oracle_boxes(sequence, "size"), sequence.boxes
    visible = ~np.isnan(truth).any(axis=1)
    assert np.allclose(boxes[visible, 2:], truth[visible, 2:])
    assert np.isfinite(boxes[4]).all()  # where there is no truth, the tracker's own box


def test_plain_mode_is_the_plain_tracker(sequence):
    plain, _, _ = track_sequence(build_tracker(), sequence)
    assert np.array_equal(oracle_boxes(sequence, "none"), plain)


def test_run_scores_every_mode_and_resumes(dataset, tmp_path, monkeypatch):
    first = oracle.run(str(dataset), None, str(tmp_path), workers=1)
    assert set(first) == set(oracle.MODES)
    # OTB rules: the init frame is scored (with the given box), the absent frame 4 is not.
    assert first["centre"]["precision"] == 1.0 and first["centre"]["frames"] == FRAMES - 1
    assert sorted(os.listdir(tmp_path / "size")) == ["square.json"]

    def not_again(job):
        raise AssertionError(f"{job[0].name} {job[1]} was run again")

    monkeypatch.setattr(oracle, "run_one", not_again)
    assert oracle.run(str(dataset), None, str(tmp_path), workers=1) == first
