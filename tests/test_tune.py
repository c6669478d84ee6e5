"""The tune command: it tunes only what a config can set."""

from tracker import tune
from tracker.params import DEFAULTS


def test_every_tuned_parameter_is_a_tracking_key_and_each_value_differs_from_the_default():
    for name, values in tune.GRID.items():
        assert name in DEFAULTS["tracking"], name
        assert DEFAULTS["tracking"][name] not in values, name


def test_only_parameters_that_can_change_a_box_are_swept():
    assert not {"scale_lr", "scale_step", "scale_penalty"} & set(tune.swept({"scale_num": 1}))
    assert {"scale_lr", "scale_step", "window_influence"} <= set(tune.swept({"scale_num": 3}))


def test_a_trial_is_kept_across_thread_counts_but_not_across_lost_thresholds():
    # The lost threshold starts re-detection and stops the colour model learning: it moves boxes.
    base = dict(DEFAULTS["tracking"])
    assert tune.key({**base, "threads": 2}) == tune.key(base)
    assert tune.key({**base, "lost_threshold": base["lost_threshold"] / 2}) != tune.key(base)
