"""benchmarks/tune.py: it loads against today's package, and it tunes only what a config can set."""

import importlib.util
import os

from tracker.params import DEFAULTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("tune", os.path.join(ROOT, "benchmarks", "tune.py"))
tune = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tune)  # fails where a name it imports from the package has moved


def test_every_tuned_parameter_is_a_tracking_key_and_each_value_differs_from_the_default():
    for name, values in tune.GRID.items():
        assert name in DEFAULTS["tracking"], name
        assert DEFAULTS["tracking"][name] not in values, name


def test_only_parameters_that_can_change_a_box_are_swept():
    assert not {"scale_lr", "scale_step", "scale_penalty"} & set(tune.swept({"scale_num": 1}))
    assert {"scale_lr", "scale_step", "window_influence"} <= set(tune.swept({"scale_num": 3}))
