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
