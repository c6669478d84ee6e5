"""The live window and the first-frame box selection, with whatever GUI this machine has.

OpenCV's own windows when the build has them (the headless wheel doesn't), otherwise
an interactive matplotlib backend.
"""

import functools
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


# Small frames are shown zoomed up to this much: a 160 px frame becomes 640 px, big enough to draw on.
MAX_ZOOM = 4
SCREEN_SHARE = 0.85  # of the screen's width and height, leaving room for the window's frame and the taskbar
DEFAULT_SCREEN = (1280, 720)  # where the screen's size can't be asked
AGAIN = "no box yet: drag a rectangle round the target, then press Enter (close the window to give up)"


def picker_scale(frame_size, screen_size):
    """The factor to show a frame of `frame_size` (width, height) at: as large as fits on a screen
    of `screen_size`, zoomed at most MAX_ZOOM."""
    (width, height), (screen_width, screen_height) = frame_size, screen_size
    return min(screen_width * SCREEN_SHARE / width, screen_height * SCREEN_SHARE / height, MAX_ZOOM)


def frame_box(shown_box, scale):
    """A box drawn on the frame shown at `scale`, in the frame's own whole pixels."""
    return tuple(float(round(v / scale)) for v in shown_box)


def ask_for_box(ask, say):
    """Call ask() until it returns a box with a size, saying what to do after each empty one;
    ask() returns None when the user closed the window instead."""
    while True:
        box = ask()
        if box is None:
            raise UserError(f"the window was closed before a box was drawn; {INSTEAD['select']}")
        if box[2] >= 1 and box[3] >= 1:
            return box
        say(AGAIN)


def screen_size():
    """The screen's (width, height) in pixels as Tk sees it, or DEFAULT_SCREEN without Tk."""
    try:
        import tkinter
    except ImportError:
        return DEFAULT_SCREEN
    try:
        root = tkinter.Tk()
    except tkinter.TclError:
        return DEFAULT_SCREEN
    root.withdraw()
    size = root.winfo_screenwidth(), root.winfo_screenheight()
    root.destroy()
    return size


def select_box(frame, title="drag a box round the target, then press Enter"):
    """Let the user drag a rectangle on `frame`, shown as large as the screen allows; returns it as
    (x, y, w, h) in whole pixels, asking again after an Enter with no rectangle."""
    plt = _gui("select")
    height, width = frame.shape[:2]
    scale = picker_scale((width, height), screen_size())
    say = functools.partial(print, file=sys.stderr)
    if plt is None:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST  # zoomed pixels stay sharp squares
        shown = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=interpolation)

        def ask():
            box = cv2.selectROI(title, shown, showCrosshair=True)
            if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                return None
            return frame_box(box, scale)

        try:
            return ask_for_box(ask, say)
        finally:
            cv2.destroyAllWindows()

    from matplotlib.widgets import RectangleSelector

    def ask():
        dpi = plt.rcParams["figure.dpi"]
        figure = plt.figure(figsize=(width * scale / dpi, height * scale / dpi))
        figure.canvas.manager.set_window_title(title)
        axes = figure.add_axes((0, 0, 1, 1))  # the frame fills the window: no margins, no title
        axes.set_axis_off()
        axes.imshow(frame[:, :, ::-1], interpolation="nearest")
        selector = RectangleSelector(axes, interactive=True)
        entered = []

        def on_key(event):
            if event.key == "enter":
                entered.append(event)
                plt.close(figure)

        figure.canvas.mpl_connect("key_press_event", on_key)
        plt.show(block=True)
        if not entered:
            return None
        x0, x1, y0, y1 = selector.extents
        # imshow centres pixel i on i; our boxes start pixel i at i.
        return frame_box((x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0), 1)

    return ask_for_box(ask, say)


def select_boxes(frame, count, draw):
    """`count` boxes dragged on `frame` one after another, each shown on the frame (drawn by
    `draw(frame, boxes)`) while the next is chosen."""
    boxes = []
    for i in range(count):
        title = f"target {i + 1} of {count}: drag a box round it, then press Enter"
        boxes.append(select_box(draw(frame, boxes) if boxes else frame, title))
    return boxes


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
