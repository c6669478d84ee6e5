"""The one tracker interface, which ours and every OpenCV peer implement, and the one loop that runs
a tracker over frames: init on the first frame, update on each later one."""

import abc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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


class MultiTracker:
    """Several targets chosen on the first frame, one tracker each, made by `make()`:
    `init(frame, boxes)`, then `update(frame) -> [(box, score), ...]` in the order of the boxes;
    `lost` lists each target's flag. Ours (siamfc.SiamFCMultiTracker) scores all the targets'
    search crops of a frame in one batch."""

    def __init__(self, make: Callable[[], Tracker]):
        self._make = make
        self.trackers: list[Tracker] = []

    def init(self, frame: np.ndarray, boxes: Sequence[Sequence[float]]) -> None:
        """Start tracking the targets inside `boxes` on `frame`; forgets any earlier ones."""
        self.close()
        self.trackers = [self._make() for _ in boxes]
        for tracker, box in zip(self.trackers, boxes):
            tracker.init(frame, box)

    def update(self, frame: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Each target's box on the next frame, and the confidence in it."""
        return [tracker.update(frame) for tracker in self.trackers]

    @property
    def lost(self) -> list[bool]:
        return [tracker.lost for tracker in self.trackers]

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()

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
    1), update on every later one. The one loop, track_targets, for one target."""
    for step in track_targets(_OneTarget(tracker), frames, [box]):
        yield Step(step.boxes[0], float(step.scores[0]), bool(step.lost[0]), step.seconds, step.frame)


class _OneTarget:
    """A tracker seen as a MultiTracker of one target (it stays the caller's to close)."""

    def __init__(self, tracker):
        self.tracker = tracker

    def init(self, frame, boxes):
        self.tracker.init(frame, boxes[0])

    def update(self, frame):
        return [self.tracker.update(frame)]

    @property
    def lost(self):
        return [self.tracker.lost]


class Steps(NamedTuple):
    """What the loop over several targets yields for one frame: a row per target."""

    boxes: np.ndarray  # (targets, 4)
    scores: np.ndarray
    lost: np.ndarray
    seconds: float  # spent in init() or update() on this frame, for all the targets
    frame: np.ndarray


def track_targets(
    tracker: MultiTracker, frames: Iterable[np.ndarray], boxes: Sequence[Sequence[float]]
) -> Iterator[Steps]:
    """Steps per frame: init on the first of `frames` with `boxes` (the Steps hold them, scores 1),
    update on every later one."""
    frames = iter(frames)
    first = next(frames)
    tic = time.perf_counter()
    tracker.init(first, boxes)
    n = len(boxes)
    yield Steps(
        np.asarray(boxes, np.float64).reshape(n, 4), np.ones(n), np.zeros(n, bool), time.perf_counter() - tic, first
    )
    for frame in frames:
        tic = time.perf_counter()
        results = tracker.update(frame)
        seconds = time.perf_counter() - tic
        found = np.array([box for box, _ in results], np.float64).reshape(n, 4)
        yield Steps(found, np.array([score for _, score in results]), np.array(tracker.lost, bool), seconds, frame)
