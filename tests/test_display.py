import numpy as np
import pytest

from tracker import display
from tracker.errors import UserError


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.setattr(display.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_select_without_display_asks_for_bbox(no_display):
    with pytest.raises(UserError, match=r"no display available for --select: .*--bbox X,Y,W,H"):
        display.select_box(np.zeros((10, 10, 3), np.uint8))


def test_show_without_display_suggests_saving_a_video(no_display):
    with pytest.raises(UserError, match=r"no display available for --show: .*--output"):
        display.Window()


def test_picker_shows_a_720p_frame_as_large_as_the_screen_allows():
    scale = display.picker_scale((1280, 720), (1920, 1080))
    assert scale == pytest.approx(1920 * display.SCREEN_SHARE / 1280)
    # A box drawn on the frame shown at that size, back in the frame's pixels.
    assert display.frame_box((80 * scale, 40 * scale, 41 * scale, 30 * scale), scale) == (80, 40, 41, 30)


def test_picker_shrinks_a_4k_frame_and_zooms_a_small_one_at_most_max_zoom():
    assert display.picker_scale((3840, 2160), (1920, 1080)) < 0.5
    assert display.picker_scale((160, 120), (1920, 1080)) == display.MAX_ZOOM
    # A tall frame is fitted by its height.
    assert display.picker_scale((400, 2000), (1920, 1080)) == pytest.approx(1080 * display.SCREEN_SHARE / 2000)


def test_picker_asks_again_after_an_empty_box():
    answers, said = iter([(0, 0, 0, 0), (5, 5, 0, 9), (5, 6, 7, 8)]), []
    assert display.ask_for_box(lambda: next(answers), said.append) == (5, 6, 7, 8)
    assert said == [display.AGAIN] * 2


def test_closing_the_picker_is_one_error_naming_bbox():
    with pytest.raises(UserError, match=r"closed before a box was drawn; .*--bbox X,Y,W,H"):
        display.ask_for_box(lambda: None, print)


def test_several_boxes_are_chosen_one_after_another_each_shown_while_the_next_is(monkeypatch):
    frame = np.zeros((40, 60, 3), np.uint8)
    chosen = iter([(1, 2, 10, 10), (20, 5, 8, 8), (30, 20, 5, 6)])
    shown = []

    def pick(picture, title):
        shown.append((picture, title))
        return next(chosen)

    monkeypatch.setattr(display, "select_box", pick)
    boxes = display.select_boxes(frame, 3, lambda f, boxes: np.full_like(f, len(boxes)))
    assert boxes == [(1, 2, 10, 10), (20, 5, 8, 8), (30, 20, 5, 6)]
    assert [int(p.max()) for p, _ in shown] == [0, 1, 2]  # the frame with the boxes chosen so far
    assert shown[1][1].startswith("target 2 of 3")
