"""The one tracker interface, which ours and every OpenCV peer implement, and the one loop that runs
a tracker over frames: init on the first frame, update on each later one."""

import abc
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np


class Tracker(abc.ABC):
    """The OpenCV / got10k toolkit shape: `init(frame, box)`, then `update(frame) -> (box, score)`
    for each later frame. Frames are BGR uint8 (or grayscale) numpy arrays as OpenCV reads them;
    boxes are x, y, w, h in pixels. `lost` says whether the last update thinks the target is lost.

    A tracker that holds threads lets go of them on close(), or at the end of a `with` block.
    """

    lost = False

    @abc.abstractmethod
    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        """Start tracking the target inside `box` on `frame`."""

    @abc.abstractmethod
    def update(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """The target's box on the next frame, and the tracker's confidence in it."""

    def close(self) -> None:  # noqa: B027 (a default that most trackers keep, not abstract)
        """Let go of threads the tracker holds; most hold none."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Step(NamedTuple):
    """What the loop yields for one frame."""

    box: np.ndarray
    score: float
    lost: bool
    seconds: float  # spent in init() or update() on this frame
    frame: np.ndarray


def track(tracker: Tracker, frames: Iterable[np.ndarray], box: Sequence[float]) -> Iterator[Step]:
    """A Step per frame: init on the first of `frames` with `box` (the Step holds that box, score
    1), update on every later one."""
    frames = iter(frames)
    first = next(frames)
    tic = time.perf_counter()
    tracker.init(first, box)
    yield Step(np.asarray(box, dtype=np.float64), 1.0, False, time.perf_counter() - tic, first)
    for frame in frames:
        tic = time.perf_counter()
        box, score = tracker.update(frame)
        yield Step(box, score, tracker.lost, time.perf_counter() - tic, frame)
