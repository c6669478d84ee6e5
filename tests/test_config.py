import os
import re

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker import params, train, weights
from tracker.architecture import CONFIG_CHOICES
from tracker.build import build_tracker, tracker_from_net
from tracker.config import CONFIG_DIR, load_config, parse_overrides, read_yaml
from tracker.errors import UserError
from tracker.interface import track

DEFAULTS = params.DEFAULTS


def load_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return params.load_params(str(path))


def error_of(tmp_path, text):
    with pytest.raises(UserError) as e:
        load_text(tmp_path, text)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_unknown_key_is_named(tmp_path):
    message = error_of(tmp_path, "tracking:\n  windw_influence: 0.2\n")
    assert "'tracking.windw_influence'" in message
    assert "window_influence" in message  # the known keys point to the fix


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
    defaults = train.DEFAULTS if name.startswith("train") else params.DEFAULTS
    cfg = load_config(os.path.join(CONFIG_DIR, name), defaults, CONFIG_CHOICES)
    # Files are named for the backbone they use when it is not the default one; the light
    # backbone's variants (fast, five scales, one pass) are named for what they change.
    deep, seven = "mobilenet_v1_deep", "mobilenet_v1"
    named = {"siamfc.yaml": deep, "train.yaml": deep, "siamfc_mobilenet.yaml": seven}
    expected = named.get(name, "alexnet" if "alexnet" in name else "light")
    assert cfg["model"]["backbone"] == expected


def leaves(cfg, path=()):
    """(key path, value) of every value in a nested mapping."""
    for key, value in cfg.items():
        yield from leaves(value, path + (key,)) if isinstance(value, dict) else [(path + (key,), value)]


@pytest.mark.parametrize(
    "name",
    sorted(n for n in os.listdir(CONFIG_DIR) if n.endswith(".yaml") and not n.startswith(("train", "siamfc.yaml"))),
)
def test_tracking_configs_state_only_what_differs_from_the_default(name):
    given = read_yaml(os.path.join(CONFIG_DIR, name))
    default = dict(leaves(DEFAULTS))
    assert [".".join(path) for path, value in leaves(given) if default[path] == value] == []


@pytest.mark.parametrize(
    "name", sorted(n for n in os.listdir(CONFIG_DIR) if n.endswith(".yaml") and not n.startswith("train"))
)
def test_shipped_tracking_configs_build_a_tracker(name):
    # Some settings (side_size, the weights' model) are only checked when the tracker is built.
    tracker = build_tracker(os.path.join(CONFIG_DIR, name))
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100:140, 140:180] = 200
    tracker.init(frame, (140, 100, 40, 40))
    box, _ = tracker.update(frame)
    assert np.allclose(box, (140, 100, 40, 40), atol=2)


@pytest.mark.parametrize(
    "text, key",
    [
        ("tracking: {response_up: 0}", "tracking.response_up"),
        ("tracking: {scale_num: 0}", "tracking.scale_num"),
        ("tracking: {scale_num: 2}", "tracking.scale_num"),
        ("tracking: {scale_step: 0}", "tracking.scale_step"),
        ("tracking: {min_scale: 2.0, max_scale: 1.5}", "tracking.min_scale"),
        ("tracking: {max_scale: 0.5}", "tracking.max_scale"),
        ("tracking: {window_influence: 1}", "tracking.window_influence"),
        ("tracking: {side_size: 150}", "tracking.side_size"),
        ("tracking: {instance_size: 100}", "tracking.instance_size"),
        ("tracking: {context: .nan}", "tracking.context"),
        ("tracking: {scale_lr: null}", "tracking.scale_lr"),
        ("tracking: {redetect_threshold: 1.5}", "tracking.redetect_threshold"),
    ],
)
def test_impossible_tracking_values_are_refused_on_load(tmp_path, text, key):
    message = error_of(tmp_path, text + "\n")
    value = yaml.safe_load(text)["tracking"][key.split(".")[1]]
    assert f"'{key}'" in message and f"is {value!r}" in message and "allowed: " in message


def test_a_relation_names_the_other_key(tmp_path):
    message = error_of(tmp_path, "tracking: {scale_step: 1.0, scale_num: 3}\n")
    assert "'tracking.scale_step'" in message and "tracking.scale_num 3" in message


def test_values_set_in_code_are_checked_too():
    params = load_config(None, DEFAULTS)
    params["tracking"]["response_up"] = 0
    net, _ = weights.load(params["weights"], params["model"])
    with pytest.raises(UserError, match="tracking.response_up"):
        tracker_from_net(net, params)


def rarely(bad, good):
    """One draw in ten from `bad`: a config of 16 keys is then still often possible throughout."""
    return st.integers(0, 9).flatmap(lambda k: bad if k == 0 else good)


unit = st.floats(0, 1)
outside_unit = st.sampled_from([-0.5, -1e-6, 1.000001, 1.5, float("nan")])
TRACKING_VALUES = {  # each key: a value in its range, or rarely one out of it
    "context": rarely(st.sampled_from([-1.0, -1e-6, float("nan")]), st.floats(0, 3)),
    "scale_num": rarely(st.sampled_from([-1, 0, 2, 4]), st.sampled_from([1, 3, 5])),
    "scale_step": rarely(st.sampled_from([0.0, 0.5, 1.0, 3.0, float("inf")]), st.floats(1.001, 2)),
    "scale_penalty": rarely(outside_unit, unit),
    "scale_lr": rarely(outside_unit, unit),
    "window_influence": rarely(st.sampled_from([-0.1, 1.0, 1.5]), st.floats(0, 0.99)),
    "response_up": rarely(st.sampled_from([-1, 0, 65, 1000]), st.integers(1, 24)),
    "side_size": rarely(st.sampled_from([111, 150, 263]), st.sampled_from([0, 127, 135, 143, 255])),
    "min_scale": rarely(st.sampled_from([0.0, -0.5, 1.5]), st.floats(0.01, 1)),
    "max_scale": rarely(st.sampled_from([0.5, -1.0, float("nan")]), st.floats(1, 10)),
    "lost_threshold": rarely(outside_unit, unit),
    "redetect": st.booleans(),
    "redetect_threshold": rarely(outside_unit, unit),
    "colour_weight": rarely(outside_unit, unit),
    "colour_rate": rarely(outside_unit, unit),
    "colour_bins": rarely(st.sampled_from([0, 1, 257]), st.integers(2, 256)),
}


@pytest.fixture(scope="module")
def square_clip():
    frames = []
    for i in range(6):  # a textured square moving right and growing over noise
        frame = np.random.default_rng(0).integers(0, 80, (90, 120, 3), dtype=np.uint8)
        side = 24 + 2 * i
        frame[30 : 30 + side, 20 + 8 * i : 20 + 8 * i + side] = 220
        frames.append(frame)
    return frames


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({}, optional=TRACKING_VALUES))
def test_any_tracking_config_gives_one_error_or_finite_boxes_in_the_frame(tmp_path, square_clip, values):
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump({"tracking": {**values, "engine": "torch"}}))
    try:
        tracker = build_tracker(str(path))
    except UserError as e:
        assert "\n" not in str(e)
        return
    height, width = square_clip[0].shape[:2]
    for box, score, lost, *_ in track(tracker, square_clip, (20, 30, 24, 24)):
        x, y, w, h = box
        assert np.all(np.isfinite(box)) and w > 0 and h > 0
        assert 0 <= x + w / 2 <= width and 0 <= y + h / 2 <= height
        assert 0 <= score <= 1 and isinstance(lost, bool)


def test_overrides_are_typed_nested_and_checked_like_the_file():
    assert parse_overrides(["train.epochs=2", "data.root=/data/got10k", "train.bf16=true", "a.b.c=0.5"]) == {
        "train": {"epochs": 2, "bf16": True},
        "data": {"root": "/data/got10k"},
        "a": {"b": {"c": 0.5}},
    }
    for bad in ["train.epochs", "=2", "train..epochs=2"]:
        with pytest.raises(UserError, match="must be KEY=VALUE"):
            parse_overrides([bad])


@pytest.mark.parametrize(
    "overrides, problem",
    [
        (
            ["tracking.scale_num=2"],
            "'tracking.scale_num' in " + os.path.join(CONFIG_DIR, "siamfc.yaml") + " with --set is 2",
        ),
        (["tracking.colour_wieght=0.1"], "unknown config key 'tracking.colour_wieght' in --set"),
        (["tracking.response_up=many"], "'tracking.response_up' in --set is 'many'; expected a int"),
    ],
)
def test_a_bad_override_names_itself(overrides, problem):
    with pytest.raises(UserError, match=re.escape(problem)):
        load_config("siamfc", DEFAULTS, rules=params.RULES, overrides=overrides)


def test_overrides_go_over_the_file():
    overrides = ["tracking.scale_num=5", "weights=x.pt"]
    cfg = load_config("siamfc_light", DEFAULTS, rules=params.RULES, overrides=overrides)
    assert cfg["tracking"]["scale_num"] == 5 and cfg["weights"] == "x.pt" and cfg["model"]["backbone"] == "light"
