"""How a tracker runs over one sequence: one pass from the first visible frame (OPE), or VOT's
supervised run, re-initialised after each failure."""

import itertools

import numpy as np

from .interface import track
from .metrics import iou

VOT_SKIP = 5  # frames between a failure and the re-initialisation (VOT)


VOT_BURNIN = 10  # frames after each (re-)initialisation left out of accuracy (VOT)


def first_visible(sequence):
    return int(np.flatnonzero(~sequence.absent)[0])


def frame_size(sequence):
    """(width, height) of the sequence's first frame."""
    height, width = next(iter(sequence.frames())).shape[:2]
    return width, height


def track_sequence(tracker, sequence):
    """One-pass run: init on the first frame with a ground-truth box, update on every later frame.

    Returns boxes (N, 4; NaN before the init), scores and seconds spent in update() (N; NaN where
    update did not run).
    """
    n, start = len(sequence), first_visible(sequence)
    boxes, scores, times = np.full((n, 4), np.nan), np.full(n, np.nan), np.full(n, np.nan)
    frames = itertools.islice(sequence.frames(), start, None)
    for i, step in enumerate(track(tracker, frames, sequence.boxes[start]), start):
        boxes[i] = step.box
        if i > start:
            scores[i], times[i] = step.score, step.seconds
    return boxes, scores, times


def track_supervised(tracker, sequence, skip=VOT_SKIP):
    """VOT-style run: when the overlap drops to 0, re-initialise on the ground truth `skip` frames later.

    Returns boxes (N, 4; NaN while not tracking), the frames of each (re-)initialisation and of each failure.
    """
    gt, absent = sequence.boxes, sequence.absent
    boxes = np.full((len(sequence), 4), np.nan)
    inits, failures = [], []
    resume = 0  # earliest frame for the next initialisation; None while tracking
    for i, frame in enumerate(sequence.frames()):
        if resume is not None:
            # The tracker can only be (re-)started on a frame where the target is visible.
            if i >= resume and not absent[i]:
                tracker.init(frame, gt[i])
                boxes[i], resume = gt[i], None
                inits.append(i)
            continue
        boxes[i], _ = tracker.update(frame)
        if not absent[i] and iou(boxes[i], gt[i])[0] == 0:
            failures.append(i)
            resume = i + skip
    return boxes, inits, failures


def supervised_overlaps(boxes, gt, absent, inits, failures, burnin=VOT_BURNIN):
    """Per-frame IoU for accuracy (NaN where it does not count) and the EAO fragments of a supervised run.

    A fragment is the IoUs of the visible frames after an initialisation up to its failure (excluded)
    or the end, with whether it ended in a failure.
    """
    n = len(gt)
    ious = np.full(n, np.nan)
    fragments = []
    for start in inits:
        end = min([f for f in failures if f > start], default=n)
        frames = np.arange(start + 1, end)
        frames = frames[~absent[frames]]
        overlaps = iou(boxes[frames], gt[frames])
        fragments.append((overlaps.tolist(), end < n))
        counted = frames > start + burnin
        ious[frames[counted]] = overlaps[counted]
    return ious, fragments
