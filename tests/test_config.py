import os

import numpy as np
import pytest

from tracker import siamfc, train
from tracker.config import CONFIG_DIR, load_config
from tracker.errors import UserError
from tracker.model import CONFIG_CHOICES

DEFAULTS = siamfc.DEFAULTS


def load_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return siamfc.load_params(str(path))


def error_of(tmp_path, text):
    with pytest.raises(UserError) as e:
        load_text(tmp_path, text)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_unknown_key_is_named(tmp_path):
    message = error_of(tmp_path, "tracking:\n  windw_influence: 0.2\n")
    assert "'tracking.windw_influence'" in message
    assert "window_influence" in message   # the known keys point to the fix


def test_wrong_type_names_key_and_expected_type(tmp_path):
    message = error_of(tmp_path, "tracking:\n  scale_num: three\n")
    assert "tracking.scale_num" in message and "int" in message


def test_bool_is_not_a_number(tmp_path):
    assert "tracking.scale_num" in error_of(tmp_path, "tracking:\n  scale_num: true\n")


def test_section_must_be_a_mapping(tmp_path):
    assert "'tracking'" in error_of(tmp_path, "tracking: 5\n")


def test_bad_choice_lists_allowed_values(tmp_path):
    message = error_of(tmp_path, "model:\n  backbone: resnet\n")
    assert "model.backbone" in message and "resnet" in message
    assert "alexnet" in message and "light" in message


def test_invalid_yaml_names_the_file(tmp_path):
    message = error_of(tmp_path, "tracking:\n  context: [0.5\n")
    assert str(tmp_path / "c.yaml") in message


def test_top_level_must_be_a_mapping(tmp_path):
    assert str(tmp_path / "c.yaml") in error_of(tmp_path, "- 1\n- 2\n")


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="config file not found: .*nope.yaml"):
        load_config(path, DEFAULTS)


def test_defaults_kept_for_keys_not_given(tmp_path):
    cfg = load_text(tmp_path, "tracking:\n  context: 1\n")
    assert cfg["tracking"]["context"] == 1.0 and isinstance(cfg["tracking"]["context"], float)
    assert cfg["tracking"]["scale_step"] == DEFAULTS["tracking"]["scale_step"]
    assert cfg["model"] == DEFAULTS["model"] and cfg["weights"] == DEFAULTS["weights"]
    # The defaults themselves are not changed by a load.
    assert DEFAULTS["tracking"]["context"] == 0.5


def test_empty_file_gives_the_defaults(tmp_path):
    assert load_text(tmp_path, "") == DEFAULTS


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(CONFIG_DIR) if n.endswith(".yaml")))
def test_shipped_configs_load(name):
    defaults = train.DEFAULTS if name.startswith("train") else siamfc.DEFAULTS
    cfg = load_config(os.path.join(CONFIG_DIR, name), defaults, CONFIG_CHOICES)
    # Files are named for the backbone they use when it is not the default one.
    assert cfg["model"]["backbone"] == ("alexnet" if "alexnet" in name else "light")


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(CONFIG_DIR)
                                        if n.endswith(".yaml") and not n.startswith("train")))
def test_shipped_tracking_configs_build_a_tracker(name):
    # Some settings (side_size, the weights' model) are only checked when the tracker is built.
    tracker = siamfc.SiamFCTracker.from_files(os.path.join(CONFIG_DIR, name))
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100:140, 140:180] = 200
    tracker.init(frame, (140, 100, 40, 40))
    box, _ = tracker.update(frame)
    assert np.allclose(box, (140, 100, 40, 40), atol=2)
