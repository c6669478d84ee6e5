"""The live window and the first-frame box selection, with whatever GUI this machine has.

OpenCV's own windows when the build has them (the headless wheel doesn't), otherwise
an interactive matplotlib backend.
"""

import os
import re
import sys

import cv2

from .errors import UserError

# What to do instead, for each command-line flag that needs a display.
INSTEAD = {
    "select": "pass the box with --bbox X,Y,W,H",
    "show": "leave out --show and save the annotated video with --output FILE.mp4",
}
# matplotlib's own order of preference when it picks a backend itself.
BACKENDS = ("MacOSX", "QtAgg", "GTK4Agg", "GTK3Agg", "TkAgg", "WXAgg")
QUIT_KEYS = (ord("q"), 27)  # q, Esc


def _gui(flag):
    """None to use OpenCV's windows, else matplotlib.pyplot set to an interactive backend."""
    if not (sys.platform in ("win32", "darwin") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        reason = "$DISPLAY and $WAYLAND_DISPLAY are not set"
    elif re.search(r"GUI:\s*NONE", cv2.getBuildInformation()) is None:
        return None
    else:
        import matplotlib.pyplot as plt

        for backend in BACKENDS:
            try:
                plt.switch_backend(backend)
                return plt
            except ImportError:
                pass
        reason = "OpenCV is the headless build and matplotlib has no GUI backend (install tkinter or PyQt6)"
    raise UserError(f"no display available for --{flag}: {reason}; {INSTEAD[flag]}")


def select_box(frame, title="drag a box round the target, then press Enter"):
    """Let the user drag a rectangle on `frame`; returns it as (x, y, w, h)."""
    plt = _gui("select")
    if plt is None:
        box = cv2.selectROI(title, frame, showCrosshair=True)
        cv2.destroyWindow(title)
    else:
        from matplotlib.widgets import RectangleSelector

        figure, axes = plt.subplots()
        axes.imshow(frame[:, :, ::-1])
        axes.set_title(title)
        selector = RectangleSelector(axes, interactive=True)
        figure.canvas.mpl_connect("key_press_event", lambda event: event.key == "enter" and plt.close(figure))
        plt.show(block=True)
        x0, x1, y0, y1 = selector.extents
        # imshow centres pixel i on i; our boxes start pixel i at i.
        box = (x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0)
    box = tuple(float(round(v)) for v in box)  # a drag means whole pixels
    if box[2] < 1 or box[3] < 1:
        raise UserError(
            f"no box was selected; drag a rectangle round the target and press Enter, or {INSTEAD['select']}"
        )
    return box


class Window:
    """Shows frames as they come; show() turns False once the user presses q or Esc or closes it."""

    def __init__(self, title="siamtrack"):
        self.title = title
        self._plt = _gui("show")
        self._shown = False
        self._figure = None
        self._image = None
        self._open = True

    def show(self, frame):
        if not self._open:
            return False
        shown, self._shown = self._shown, True
        if self._plt is None:
            cv2.imshow(self.title, frame)
            key = cv2.waitKey(1) & 0xFF
            self._open = key not in QUIT_KEYS and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
            return self._open
        if not shown:
            self._figure, axes = self._plt.subplots(num=self.title)
            axes.set_axis_off()
            self._image = axes.imshow(frame[:, :, ::-1])
            self._figure.canvas.mpl_connect("key_press_event", self._on_key)
        else:
            self._image.set_data(frame[:, :, ::-1])
        self._plt.pause(0.001)  # lets the GUI draw and deliver key presses
        self._open = self._plt.fignum_exists(self._figure.number)
        return self._open

    def _on_key(self, event):
        if event.key in ("q", "escape"):
            self._plt.close(self._figure)

    def close(self):
        self._open = False
        if not self._shown:
            return
        if self._plt is None:
            cv2.destroyWindow(self.title)
        else:
            self._plt.close(self._figure)
