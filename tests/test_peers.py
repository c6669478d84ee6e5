import os
import subprocess
import sys

import numpy as np
import pytest

from tracker.errors import UserError
from tracker.peers import PeerTracker, PeerUnavailable
from tracker.specs import folder_name, make_tracker, parse_spec, spec_options, tracking_sources

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "models")
START = np.array([40.0, 30.0, 40.0, 40.0])
STEP = np.array([3.0, 2.0, 0.0, 0.0])


def moving_square(n):
    """A textured 40 px square moving 3 px right and 2 px down per frame over a noisy background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (160, 200, 3), dtype=np.uint8)
    # Smooth texture: MOSSE's filter needs some low-frequency structure to lock on.
    patch = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8).repeat(4, axis=0).repeat(4, axis=1)
    frames = []
    for i in range(n):
        x, y = (START[:2] + i * STEP[:2]).astype(int)
        frame = background.copy()
        frame[y : y + 40, x : x + 40] = patch
        frames.append(frame)
    return frames


def needs_models(name):
    if name in ("nano", "vit") and not os.path.isdir(MODELS):
        pytest.skip(f"{name} needs the model files in {MODELS}, which is absent")


@pytest.mark.parametrize("name", ["csrt", "kcf", "mil", "mosse", "nano", "vit"])
def test_peer_follows_moving_square(name):
    needs_models(name)
    frames = moving_square(6)
    tracker = make_tracker(name, peer_models=MODELS)
    tracker.init(frames[0], START)
    for frame in frames[1:]:
        box, score = tracker.update(frame)
    assert not tracker.lost
    assert box.shape == (4,) and box.dtype == np.float64
    truth = START + 5 * STEP
    centre_error = np.hypot(*(box[:2] + box[2:] / 2 - truth[:2] - truth[2:] / 2))
    assert centre_error < 6
    assert 0 < score <= 1


def test_peers_without_own_score_report_one():
    frames = moving_square(2)
    tracker = make_tracker("kcf")
    tracker.init(frames[0], START)
    assert tracker.update(frames[1])[1] == 1.0


@pytest.mark.parametrize("name", ["nano", "vit"])
def test_missing_model_folder_makes_peer_unavailable(tmp_path, name):
    with pytest.raises(PeerUnavailable, match="--peer-models") as e:
        make_tracker(name, peer_models=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value)
    assert "\n" not in str(e.value)


def test_unreadable_model_makes_peer_unavailable(tmp_path):
    for name in ("nanotrack_v2_backbone.onnx", "nanotrack_v2_head.onnx"):
        (tmp_path / name).write_text("not a network")
    with pytest.raises(PeerUnavailable, match="could not load the nano model"):
        make_tracker("nano", peer_models=tmp_path)


def test_unknown_tracker_is_a_user_error():
    with pytest.raises(UserError, match="choose from siamfc, csrt"):
        make_tracker("kfc")


class ScriptedOpenCV:
    """Stands in for an OpenCV tracker: records init, answers update from a script."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.init_box = None

    def init(self, frame, box):
        self.init_box = box

    def update(self, frame):
        return self.answers.pop(0)


def test_init_box_is_rounded_to_a_nonempty_integer_rect():
    cv_tracker = ScriptedOpenCV([])
    PeerTracker("fake", lambda: cv_tracker).init(None, (10.4, 20.6, 30.7, 0.2))
    assert cv_tracker.init_box == (10, 21, 31, 1)
    assert all(type(v) is int for v in cv_tracker.init_box)


def test_failed_update_keeps_last_box_with_zero_score():
    cv_tracker = ScriptedOpenCV([(True, (12, 22, 30, 5)), (False, (0.0, 0.0, 0.0, 0.0)), (True, (14, 23, 30, 5))])
    tracker = PeerTracker("fake", lambda: cv_tracker)
    tracker.init(None, (10.4, 20.6, 30.7, 4.8))
    assert tracker.update(None)[0].tolist() == [12, 22, 30, 5] and not tracker.lost
    box, score = tracker.update(None)
    assert box.tolist() == [12, 22, 30, 5] and score == 0.0 and tracker.lost
    box, score = tracker.update(None)
    assert box.tolist() == [14, 23, 30, 5] and score == 1.0 and not tracker.lost


@pytest.mark.parametrize("name", ["csrt", "kcf", "mil", "mosse"])
def test_peer_can_be_reinitialised_on_a_box_of_another_size(name):
    # OpenCV's KCF breaks when init is called again on the same object; the supervised run relies on it.
    frames = moving_square(3)
    tracker = make_tracker(name)
    tracker.init(frames[0], START)
    tracker.update(frames[1])
    tracker.init(frames[1], START + STEP + (0, 0, -8, 0))
    box, _ = tracker.update(frames[2])
    assert box[2:].tolist() == [32, 40]


def test_tracker_specs_name_our_config_and_weights():
    assert parse_spec("kcf") == ("kcf", None, None)
    assert parse_spec("siamfc:siamfc_light") == ("siamfc", "siamfc_light", None)
    assert parse_spec("siamfc@runs/best.pt") == ("siamfc", None, "runs/best.pt")
    # The config ends at the first '@'; the weights take the rest.
    assert parse_spec("siamfc:C:/a.yaml@w@2.pt") == ("siamfc", "C:/a.yaml", "w@2.pt")
    for bad, problem in [("kcf:x.yaml", "only siamfc"), ("siamfc:", "give a config"), ("siamfc@", "a weights file")]:
        with pytest.raises(UserError, match=problem):
            parse_spec(bad)
    options = {"config": "given.yaml", "weights": "given.pt", "peer_models": None, "device": "cpu"}
    assert spec_options("siamfc@w.pt", options) == ("siamfc", {**options, "weights": "w.pt"})
    assert spec_options("siamfc", options) == ("siamfc", options)


def test_a_spec_makes_a_folder_name_without_separators():
    assert folder_name("siamfc") == "siamfc"
    assert folder_name("siamfc:configs/a b.yaml@/w/x.pt") == "siamfc_configs_a_b.yaml@_w_x.pt"


def test_the_tracking_sources_are_what_building_and_running_ours_imports():
    names = {os.path.basename(p) for p in tracking_sources()}
    # What a fresh Python has loaded of the package once it built our tracker and can run it.
    code = "import sys, tracker.build, tracker.runner, tracker.video; print(*sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert {m.split(".")[1] + ".py" for m in loaded if m.startswith("tracker.")} <= names
    assert {"config.py", "runner.py", "siamfc.py", "model.py"} <= names
    assert not {"cli.py", "benchmark.py", "report.py", "train.py"} & names  # no rerun after a change there
