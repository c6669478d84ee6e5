import numpy as np
import pytest

from tracker.annotate import GREEN, RED, TARGET_COLOURS, WHITE, YELLOW, draw, draw_targets

NAN_BOX = (np.nan,) * 4


def grey(height=240, width=320):
    return np.full((height, width, 3), 90, np.uint8)


def changed(a, b):
    return np.any(a != b, axis=2)


def test_output_is_a_new_frame_of_the_same_shape():
    frame = grey()
    before = frame.copy()
    out = draw(frame, (50, 60, 80, 100), 0.87, 12, trail=[(10, 10), (40, 40)], heatmap=np.eye(5))
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (frame == before).all()
    assert changed(out, frame).any()


def test_box_edges_are_green():
    out = draw(grey(), (50, 60, 80, 100), 0.5, 0)
    # The box covers pixels 50..129 by 60..159; a 1-px line at the far edges.
    for x, y in [(50, 100), (129, 100), (90, 60), (90, 159)]:
        assert tuple(out[y, x]) == GREEN
    assert tuple(out[110, 90]) == (90, 90, 90)


def test_lost_box_is_red_and_dashed():
    out = draw(grey(), (50, 60, 80, 100), 0.1, 0, lost=True)
    top = out[60, 50:130]
    assert tuple(out[60, 50]) == RED
    is_red = (top == RED).all(axis=1)
    assert is_red.any() and not is_red.all()


def test_box_partly_outside_draws_the_visible_edges():
    out = draw(grey(), (-50, -60, 200, 1000), 0.5, 0)
    assert tuple(out[120, 149]) == GREEN
    assert not (out[:, 0] == GREEN).all(axis=1).any()


@pytest.mark.parametrize("box", [(400, 10, 50, 50), (-100, -100, 50, 50), (1e12, -1e12, 1e13, 5)])
def test_box_wholly_outside_draws_nothing_but_text(box):
    frame = grey()
    assert changed(draw(frame, box, 0.5, 3), draw(frame, NAN_BOX, 0.5, 3)).sum() == 0


def test_nan_box_changes_only_the_text_corner():
    frame = grey()
    rows, cols = np.nonzero(changed(draw(frame, NAN_BOX, 0.42, 7), frame))
    assert len(rows) > 0
    assert rows.max() < 40 and cols.max() < 120


def test_heatmap_inset_fills_the_top_right_corner():
    frame = grey()
    heatmap = np.outer(np.hanning(17), np.hanning(17))
    plain = draw(frame, NAN_BOX, 0.5, 0)
    inset = draw(frame, NAN_BOX, 0.5, 0, heatmap=heatmap)
    diff = changed(plain, inset)
    assert diff[:60, 260:].all()  # a quarter of the short side: 60 px
    assert not diff[60:].any() and not diff[:, :260].any()


def test_heatmap_peak_is_marked_with_a_white_cross():
    heatmap = np.zeros((17, 17))
    heatmap[4, 12] = 1
    out = draw(grey(), NAN_BOX, 0.5, 0, heatmap=heatmap)
    # The inset is 60 px square at x 260..319: the peak's cell centre is at (12.5, 4.5) * 60 / 17.
    x, y = 260 + round(12.5 * 60 / 17), round(4.5 * 60 / 17)
    assert tuple(out[y, x]) == WHITE and tuple(out[y, x - 4]) == WHITE and tuple(out[y - 4, x]) == WHITE


def test_label_names_the_frame_and_the_score():
    scored, unscored = draw(grey(), NAN_BOX, 0.5, 7), draw(grey(), NAN_BOX, None, 7)
    # "frame 7  score 0.50" reaches further right than "frame 7".
    assert changed(scored, grey())[:, 60:].any() and not changed(unscored, grey())[:, 60:].any()


def test_trail_fades_towards_the_oldest_centre():
    out = draw(grey(), NAN_BOX, 0.5, 0, trail=[(20, 200), (120, 200), (220, 200), (300, 200)])
    # Three segments: the oldest at 1/3 of full yellow, the newest at full.
    assert tuple(out[200, 60]) == (0, 85, 85)
    assert tuple(out[200, 260]) == YELLOW


def test_tiny_frames_and_wild_values_survive():
    frame = np.zeros((3, 2, 3), np.uint8)
    out = draw(
        frame,
        (0, 0, 1, 1),
        float("nan"),
        1,
        trail=[(0, 0), (1e9, np.nan), (2, 2)],
        lost=True,
        heatmap=np.full((4, 4), np.nan),
    )
    assert out.shape == frame.shape


def test_each_target_has_its_colour_an_id_tag_and_dashes_when_lost():
    boxes = [(20, 60, 60, 60), (150, 60, 60, 60)]
    out = draw_targets(grey(), boxes, [0.9, 0.2], 7, lost=[False, True])
    assert tuple(out[90, 20]) == TARGET_COLOURS[0] and (out[60:120, 20] == TARGET_COLOURS[0]).all()
    left = (out[60:120, 150] == TARGET_COLOURS[1]).all(axis=1)
    assert left.any() and not left.all()  # dashed: target 2 is lost
    for x, _, _, _ in boxes:  # the tag sits just above the box, in its colour
        assert changed(out[40:60, x : x + 30], grey()[40:60, x : x + 30]).any()
    assert changed(out[:20, :60], grey()[:20, :60]).any()  # the frame number


def test_targets_beyond_the_palette_take_its_colours_again():
    boxes = [(10 + 30 * i, 100, 20, 20) for i in range(len(TARGET_COLOURS) + 1)]
    out = draw_targets(grey(), boxes, None, None)
    assert tuple(out[110, boxes[-1][0]]) == TARGET_COLOURS[0]
