import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.metrics import (
    REPORTED,
    THRESHOLDS_NORM,
    THRESHOLDS_PX,
    aggregate,
    center_error,
    clip_to_image,
    eao,
    eao_curve,
    iou,
    longterm_figures,
    longterm_thresholds,
    lost_precision_recall,
    normalized_center_error,
    paired_difference,
    precision_curve,
    success_curve,
    summary,
    tracking_precision_recall,
    vot_accuracy_robustness,
)


def test_iou_hand_computed():
    a = [[0, 0, 10, 10]] * 4
    b = [
        [0, 0, 10, 10],  # identical: 1
        [20, 0, 5, 5],  # disjoint: 0
        [10, 0, 10, 10],  # sharing only an edge: 0
        [5, 5, 10, 10],
    ]  # 5x5 = 25 overlap, union 100 + 100 - 25 = 175
    np.testing.assert_allclose(iou(a, b), [1, 0, 0, 25 / 175])


def test_iou_of_boxes_without_area_is_zero():
    assert iou([[3, 3, 0, 0]], [[3, 3, 0, 0]])[0] == 0


def test_center_errors_hand_computed():
    # centres (5, 5) and (8, 9): offset (3, 4), distance 5
    np.testing.assert_allclose(center_error([[0, 0, 10, 10]], [[3, 4, 10, 10]]), [5])
    # centres (5, 5) and (4, 10); offset (1, -5) over ground-truth size (4, 20) = (0.25, -0.25)
    np.testing.assert_allclose(normalized_center_error([[0, 0, 10, 10]], [[2, 0, 4, 20]]), [np.sqrt(0.125)])


def test_success_curve_is_strict():
    # thresholds 0, 0.05, ..., 1: IoU 0 never counts, IoU 1 counts up to 0.95, 0.52 up to 0.5, 0.26 up to 0.25
    curve = success_curve([0, 0.52, 1.0, 0.26])
    expected = [0.75] * 6 + [0.5] * 5 + [0.25] * 9 + [0]
    np.testing.assert_allclose(curve, expected)
    # AUC = (6 * 0.75 + 5 * 0.5 + 9 * 0.25) / 21 = 9.25 / 21
    assert curve.mean() == pytest.approx(9.25 / 21)


def test_precision_curve_is_inclusive():
    curve = precision_curve([0, 20, 20.5, 60])
    # error 0 counts from t=0, 20 from t=20, 20.5 from t=21, 60 never (thresholds end at 50)
    assert (curve[0], curve[19], curve[20], curve[21], curve[50]) == (0.25, 0.25, 0.5, 0.75, 0.75)


def test_precision_is_reported_at_20_px_and_0_2_sizes():
    assert THRESHOLDS_PX[REPORTED] == 20 and THRESHOLDS_NORM[REPORTED] == 0.2


def test_summary_hand_computed():
    # IoUs 1, 1/7, 0 (a miss); errors 0, 7.07 px, inf; normalized 0, 0.3, inf
    m = summary([1, 1 / 7, 0], [0, np.sqrt(50), np.inf], [0, 0.3, np.inf])
    assert m["frames"] == 3
    assert m["ao"] == pytest.approx((1 + 1 / 7) / 3)
    assert m["sr50"] == pytest.approx(1 / 3) and m["sr75"] == pytest.approx(1 / 3)
    # success: 2/3 for t = 0, 0.05, 0.1 (1/7 > 0.1); 1/3 for t = 0.15 .. 0.95; 0 at t = 1
    # AUC = (3 * 2/3 + 17 * 1/3) / 21 = 23/63
    assert m["auc"] == pytest.approx(23 / 63)
    assert m["precision"] == pytest.approx(2 / 3)  # 0 and 7.07 are within 20 px
    assert m["norm_precision"] == pytest.approx(1 / 3)  # the value at 0.2: only 0 is within
    assert m["norm_precision_curve"][29] == pytest.approx(1 / 3)
    assert m["norm_precision_curve"][30] == pytest.approx(2 / 3)
    assert len(m["success_curve"]) == 21 and len(m["precision_curve"]) == len(m["norm_precision_curve"]) == 51


def test_clip_to_image_as_the_got10k_toolkit():
    boxes = [
        [-5, -3, 12, 12],  # corner moved to (0, 0); the size stays
        [85, 62, 25, 30],  # cut at the right and bottom edges of a 100 x 80 image
        [120, 90, 5, 5],  # wholly outside: moved to the edge, no area left
        [10, 10, 20, 20],
    ]  # inside: unchanged
    np.testing.assert_array_equal(
        clip_to_image(boxes, (100, 80)), [[0, 0, 12, 12], [85, 62, 15, 18], [100, 80, 0, 0], [10, 10, 20, 20]]
    )


def test_aggregate_means_over_sequences():
    a = {"auc": 0.2, "precision": 0.4, "frames": 3, "success_curve": [1.0, 0.0]}
    b = {"auc": 0.6, "precision": 0.8, "frames": 5, "success_curve": [0.0, 0.5]}
    empty = {"auc": np.nan, "precision": np.nan, "frames": 0, "success_curve": [np.nan, np.nan]}
    out = aggregate([a, empty, b])
    assert out["auc"] == pytest.approx(0.4) and out["precision"] == pytest.approx(0.6)
    assert out["frames"] == 8
    np.testing.assert_allclose(out["success_curve"], [0.5, 0.25])


def test_vot_accuracy_robustness():
    # counted IoUs 1, 0.5, 0.7, 0.3: accuracy 2.5 / 4; 1 failure in 6 frames: 100 / 6 per 100 frames
    out = vot_accuracy_robustness([[1, np.nan, 0.5, 0.7], [np.nan, 0.3]], [1, 0])
    assert out["accuracy"] == pytest.approx(0.625)
    assert out["robustness"] == pytest.approx(100 / 6)
    assert (out["failures"], out["frames"]) == (1, 6)


def test_eao_hand_computed():
    fragments = [
        ([1, 1], True),  # failed: padded 1, 1, 0, 0 -> averages 1, 1, 2/3, 1/2 at every length
        ([0.5, 0.5, 0.5, 0.5], False),  # reached the end: averages 0.5, counted for lengths 1..4
        ([0.9], False),
    ]  # reached the end after 1 frame: counted for length 1 only
    # n=1: (1 + 0.5 + 0.9) / 3 = 0.8; n=2: (1 + 0.5) / 2 = 0.75; n=3: (2/3 + 0.5) / 2 = 7/12; n=4: 0.5
    np.testing.assert_allclose(eao_curve(fragments), [0.8, 0.75, 7 / 12, 0.5])
    assert eao(fragments) == pytest.approx((0.8 + 0.75 + 7 / 12 + 0.5) / 4)  # = 79/120
    assert eao(fragments, (2, 3)) == pytest.approx((0.75 + 7 / 12) / 2)  # = 2/3


def test_eao_of_a_failure_right_after_init_is_zero():
    assert eao([([], True)]) == 0


positive_boxes = st.tuples(st.floats(-1000, 1000), st.floats(-1000, 1000), st.floats(0.01, 1000), st.floats(0.01, 1000))


@given(positive_boxes, positive_boxes)
def test_iou_bounded_and_symmetric(a, b):
    ab, ba = iou([a], [b])[0], iou([b], [a])[0]
    assert 0 <= ab <= 1 + 1e-9
    assert ab == ba


@given(positive_boxes)
def test_iou_with_itself_is_one(a):
    assert iou([a], [a])[0] == pytest.approx(1)


def test_paired_difference_by_hand():
    a = {"s1": 0.50, "s2": 0.20, "s3": 0.40, "only_a": 0.9}
    b = {"s1": 0.60, "s2": 0.10, "s3": 0.43, "only_b": 0.1}
    # differences +0.10, -0.10, +0.03: mean 0.01; sample std sqrt((0.09^2 + 0.11^2 + 0.02^2) / 2)
    r = paired_difference(a, b)
    assert r["sequences"] == 3 and (r["better"], r["worse"]) == (2, 1)
    assert r["mean"] == pytest.approx(0.01)
    assert r["se"] == pytest.approx(np.sqrt((0.09**2 + 0.11**2 + 0.02**2) / 2) / np.sqrt(3))
    assert paired_difference(a, b, margin=0.05)["better"] == 1


def test_longterm_thresholds_take_evenly_ranked_scores_between_infinities():
    assert longterm_thresholds([0.2, np.nan, 0.9, 0.5]).tolist() == [np.inf, 0.9, 0.5, 0.2, -np.inf]
    # 10 scores, 4 to pick: every 10 // 4 = 2nd rank from the highest, ranks 2, 4, 6, 8 of 9..0.
    assert longterm_thresholds(np.arange(10.0), resolution=6).tolist() == [np.inf, 7, 5, 3, 1, -np.inf]


# Frame 0 and 1: target visible, IoU 0.8 and 0.6; frames 2 and 3: target gone (IoU 0).
LONG = ([0.8, 0.6, 0.0, 0.0], [0.9, 0.5, 0.7, 0.2], [True, True, False, False])


def test_tracking_precision_recall_hand_computed():
    precision, recall = tracking_precision_recall(*LONG, [np.inf, 0.9, 0.7, 0.5, 0.2])
    # Reported: none (precision 1 by definition); frame 0; 0 and 2; 0, 1 and 2; all. Recall over 2 visible frames.
    np.testing.assert_allclose(precision, [1, 0.8, 0.4, 1.4 / 3, 0.35])
    np.testing.assert_allclose(recall, [0, 0.4, 0.4, 0.7, 0.7])


def test_longterm_f_score_is_the_best_over_thresholds_of_the_mean_curves():
    one = longterm_figures([LONG])
    # F = 2PR/(P+R) at the thresholds above: 0, 0.533, 0.4, 0.56, 0.467; best at 0.5.
    assert one == pytest.approx({"precision": 1.4 / 3, "recall": 0.7, "fscore": 0.56})
    # With a second sequence (one visible frame, IoU 0.5, score 0.6) the thresholds are both's scores and
    # the curves are averaged: at 0.5, P = (1.4/3 + 0.5) / 2, R = (0.7 + 0.5) / 2, F = 0.58 / (29/60 + 0.6).
    two = longterm_figures([LONG, ([0.5], [0.6], [True])])
    assert two == pytest.approx({"precision": 29 / 60, "recall": 0.6, "fscore": 0.58 / (29 / 60 + 0.6)})
    # A sequence where the target is never visible has no recall: it is left out.
    assert longterm_figures([LONG, ([0.0], [0.3], [False])]) == one
    assert np.isnan(longterm_figures([([0.0], [0.3], [False])])["fscore"])


def test_lost_precision_recall_hand_computed():
    # Six frames: on, on (IoU 0.5, 0.9), between (0.2: counts for neither), off (IoU 0), off
    # (absent), off (IoU 0). Flagged lost: the second, the between one, the first two off ones.
    lost = np.array([False, True, True, True, True, False])
    overlaps = np.array([0.5, 0.9, 0.2, 0.0, 0.0, 0.0])
    visible = np.array([True, True, True, True, False, True])
    got = lost_precision_recall(lost, overlaps, visible)
    # Flagged among on/off frames: 3 (frames 2, 4, 5), of which 2 off; 3 frames off, 2 flagged.
    assert got == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3)}
    assert np.isnan(lost_precision_recall(lost * False, overlaps, visible)["precision"])  # nothing flagged
