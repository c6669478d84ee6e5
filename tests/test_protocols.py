import json
import os

import numpy as np
import pytest

from tracker.protocols import (
    LAYOUT_PROTOCOL,
    PROTOCOLS,
    evaluate,
    leaves_view,
    longterm_frames,
    sequence_metrics,
)
from tracker.sequences import LAYOUTS

# Figures of the GOT-10k toolkit's own code (got10k 0.1.3) for the boxes stored with them; made by
# tests/fixtures/make_toolkit_fixtures.py, whose docstring has the command.
with open(os.path.join(os.path.dirname(__file__), "fixtures", "toolkit.json")) as f:
    TOOLKIT = json.load(f)


def toolkit_runs(names):
    runs = []
    for name in names:
        seq = TOOLKIT["sequences"][name]
        absent = np.isin(np.arange(len(seq["gt"])), seq["absent"])
        runs.append((seq["pred"], np.array(seq["gt"], float), absent, TOOLKIT["image_size"]))
    return runs


def test_otb_equals_the_toolkits_otb_experiment():
    expected = TOOLKIT["otb"]
    per_sequence, overall = evaluate(toolkit_runs(expected["sequences"]), "otb")
    assert overall["auc"] == pytest.approx(expected["auc"], abs=1e-4)
    assert overall["precision"] == pytest.approx(expected["precision"], abs=1e-4)
    for name, m in zip(expected["sequences"], per_sequence):
        assert m["auc"] == pytest.approx(expected["per_sequence"][name]["auc"], abs=1e-4)
        assert m["precision"] == pytest.approx(expected["per_sequence"][name]["precision"], abs=1e-4)


def test_got10k_equals_the_toolkits_got10k_experiment():
    expected = TOOLKIT["got10k"]
    per_sequence, overall = evaluate(toolkit_runs(expected["sequences"]), "got10k")
    for key in ("ao", "sr50", "sr75"):
        assert overall[key] == pytest.approx(expected[key], abs=1e-4)
    for name, m in zip(expected["sequences"], per_sequence):
        assert m["ao"] == pytest.approx(expected["per_sequence"][name]["ao"], abs=1e-4)
        assert m["sr50"] == pytest.approx(expected["per_sequence"][name]["sr50"], abs=1e-4)
    # Pooled, not the mean over sequences; clipped, not raw: either way the fixture would differ.
    assert np.mean([m["ao"] for m in per_sequence]) == pytest.approx(0.5663, abs=1e-4)
    unclipped = [(pred, gt, absent, (1000, 1000)) for pred, gt, absent, _ in toolkit_runs(expected["sequences"])]
    assert evaluate(unclipped, "got10k")[1]["ao"] != pytest.approx(expected["ao"], abs=1e-3)


# One target of 10x10 px at the origin; frame 2 has none. Predictions: frame 0 anything (the init
# frame holds the given box), then IoU 1 / error 0, (frame 2 absent), IoU 1/3 / 5 px / 0.5 sizes,
# and IoU 0 / 30 px / 3 sizes.
GT = np.array([[0, 0, 10, 10]] * 5, float)
ABSENT = np.array([False, False, True, False, False])
PRED = [[99, 99, 1, 1], [0, 0, 10, 10], [50, 50, 10, 10], [5, 0, 10, 10], [30, 0, 10, 10]]


def test_otb_scores_the_init_frame_and_leaves_out_absent_frames():
    m = sequence_metrics(PRED, GT, ABSENT, "otb")
    # frames 0, 1, 3, 4 with IoU 1, 1, 1/3, 0: 3 above t for the 7 thresholds 0..0.30, 2 for the 13
    # from 0.35 to 0.95, none at 1
    assert m["frames"] == 4
    assert m["auc"] == pytest.approx((7 * 3 + 13 * 2) / (4 * 21))
    assert m["precision"] == pytest.approx(3 / 4) and m["norm_precision"] == pytest.approx(2 / 4)
    assert m["ao"] == pytest.approx((7 / 3) / 4)


def test_lasot_counts_absent_frames_as_misses():
    m = sequence_metrics(PRED, GT, ABSENT, "lasot")
    assert m["frames"] == 5
    assert m["auc"] == pytest.approx((7 * 3 + 13 * 2) / (5 * 21))
    assert m["precision"] == pytest.approx(3 / 5) and m["norm_precision"] == pytest.approx(2 / 5)
    assert m["ao"] == pytest.approx((7 / 3) / 5)
    assert (m["sr50"], m["sr75"]) == (pytest.approx(2 / 5), pytest.approx(2 / 5))


def test_uav123_counts_a_nan_frame_as_a_success_miss_and_a_precision_hit():
    gt = GT.copy()
    gt[2] = np.nan
    m = sequence_metrics(PRED, gt, np.zeros(5, bool), "uav123")
    assert m["frames"] == 5
    assert m["auc"] == pytest.approx((7 * 3 + 13 * 2) / (5 * 21))
    assert m["precision"] == pytest.approx(4 / 5) and m["norm_precision"] == pytest.approx(3 / 5)


def test_got10k_leaves_out_the_init_and_absent_frames():
    m = sequence_metrics(PRED, GT, ABSENT, "got10k", image_size=(100, 100))
    assert m["frames"] == 3
    assert m["ao"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["sr50"] == pytest.approx(1 / 3)


def test_a_late_start_is_scored_from_the_first_visible_frame():
    # Target absent in frames 0-1: the tracker starts on frame 2, which holds the given box.
    gt = np.array([[np.nan] * 4, [np.nan] * 4, [0, 0, 10, 10], [0, 0, 10, 10]])
    pred = [[np.nan] * 4, [np.nan] * 4, [0, 0, 10, 10], [5, 0, 10, 10]]
    otb = sequence_metrics(pred, gt, np.zeros(4, bool), "otb")
    assert otb["frames"] == 2 and otb["ao"] == pytest.approx((1 + 1 / 3) / 2)
    lasot = sequence_metrics(pred, gt, np.zeros(4, bool), "lasot")
    assert lasot["frames"] == 4 and lasot["ao"] == pytest.approx((1 + 1 / 3) / 4)
    assert sequence_metrics(pred, gt, np.zeros(4, bool), "got10k", (100, 100))["frames"] == 1


def test_missing_prediction_is_a_miss():
    m = sequence_metrics([[0, 0, 10, 10], [np.nan] * 4], [[0, 0, 10, 10]] * 2, [False, False], "otb")
    assert (m["ao"], m["precision"], m["frames"]) == (0.5, 0.5, 2)


def test_every_layout_has_a_protocol():
    assert set(LAYOUT_PROTOCOL) == set(LAYOUTS) and set(LAYOUT_PROTOCOL.values()) <= set(PROTOCOLS)


def test_a_long_term_sequence_is_one_where_the_target_leaves_after_it_was_seen():
    assert leaves_view([False, True, False]) and leaves_view([True, False, True])
    assert not leaves_view([True, False, False]) and not leaves_view([False, False])


def test_longterm_frames_are_those_after_the_init_with_overlap_0_where_the_target_is_gone():
    gt = [[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]]
    pred = [[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 10], [0, 0, 10, 10]]
    # Frame 0 is the init (no score); frame 2 has no box, frame 3 an absence label.
    overlaps, scores, visible = longterm_frames(pred, gt, [False, False, False, True], [np.nan, 0.9, 0.4, 0.8])
    assert overlaps.tolist() == [0.5, 0, 0] and scores.tolist() == [0.9, 0.4, 0.8]
    assert visible.tolist() == [True, False, False]
