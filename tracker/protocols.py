"""The one-pass protocols of the benchmarks' official toolkits: which frames they score, and how.

They agree on the formulas (metrics.py) and differ in four rules:

- the init frame: OTB's, UAV123's and LaSOT's toolkits (and got10k's OTB experiment, pytracking,
  pysot) put the given box there and score it (IoU 1, error 0); GOT-10k's leaves it out;
- frames without the target: GOT-10k's and (for want of any in OTB) OTB's leave them out; LaSOT's
  Matlab toolkit, pytracking and pysot count them as misses in every curve; UAV123's (the OTB
  Matlab toolkit it was built from, which pytracking and pysot follow) counts a frame with a NaN
  box as a miss in success but a hit in precision;
- clipping: GOT-10k's toolkit cuts both boxes to the image before IoU;
- pooling: GOT-10k's figures are over the frames of all sequences pooled; the others' are the mean
  of the per-sequence figures.

VOT's one-pass figures follow OTB's rules; its own figures are the supervised run's. Long-term
figures (VOT-LT) are over the frames after the init, whatever the protocol (longterm_frames).
"""

from dataclasses import dataclass

import numpy as np

from .metrics import aggregate, center_error, clip_to_image, iou, normalized_center_error, summary


@dataclass(frozen=True)
class Protocol:
    init_scored: bool  # the init frame is scored with the given box, else left out
    absent: str  # frames without the target: "skip" (left out), "miss", or "uav" (success miss, precision hit)
    clip: bool  # boxes cut to the image before IoU
    pooled: bool  # overall figures over all frames pooled, else the mean over sequences
    note: str  # the rules in words, for the report


_OTB = (
    "The init frame is scored with the given box; frames without the target are left out; figures are means "
    "over sequences."
)
PROTOCOLS = {
    "otb": Protocol(True, "skip", False, False, "OTB toolkit rules. " + _OTB),
    "uav123": Protocol(
        True,
        "uav",
        False,
        False,
        "UAV123 toolkit rules. The init frame is scored with the given box; a frame without the target "
        "is a miss in success and a hit in precision; figures are means over sequences.",
    ),
    "lasot": Protocol(
        True,
        "miss",
        False,
        False,
        "LaSOT toolkit rules. The init frame is scored with the given box; a frame without the target "
        "is a miss in every curve; figures are means over sequences.",
    ),
    "got10k": Protocol(
        False,
        "skip",
        True,
        True,
        "GOT-10k toolkit rules. The init frame and frames without the target are left out; both boxes "
        "are cut to the image before IoU; figures are over the frames of all sequences pooled.",
    ),
    "vot": Protocol(True, "skip", False, False, "One-pass figures under OTB toolkit rules. " + _OTB),
}
# The protocol of each dataset layout (sequences.LAYOUTS); our own video layout is scored as OTB.
LAYOUT_PROTOCOL = {"otb": "otb", "video": "otb", "uav123": "uav123", "lasot": "lasot", "got10k": "got10k", "vot": "vot"}


def frame_scores(pred, gt, absent, protocol, image_size=None):
    """IoU, centre error (px) and normalised centre error of each frame `protocol` counts, in order.

    pred: a one-pass run's boxes, the tracker started on the first frame where the target is visible
    (not `absent` and a ground-truth box that is not NaN); a NaN prediction is a miss. image_size:
    (width, height), needed by protocols that clip.
    """
    rules = PROTOCOLS[protocol]
    pred, gt = np.array(pred, float), np.asarray(gt, float)
    absent = np.asarray(absent, bool) | np.isnan(gt).any(axis=1)
    start = int(np.flatnonzero(~absent)[0])
    pred[start] = gt[start]
    counted = ~absent if rules.absent == "skip" else np.ones(len(gt), bool)
    counted[start] = rules.init_scored
    boxes = (clip_to_image(pred, image_size), clip_to_image(gt, image_size)) if rules.clip else (pred, gt)
    ious, errors, norm_errors = iou(*boxes), center_error(pred, gt), normalized_center_error(pred, gt)
    ious[absent] = 0
    errors[absent] = norm_errors[absent] = 0 if rules.absent == "uav" else np.inf
    return ious[counted], errors[counted], norm_errors[counted]


def sequence_metrics(pred, gt, absent, protocol="otb", image_size=None):
    """Figures and curves of one sequence under `protocol` (see frame_scores)."""
    return summary(*frame_scores(pred, gt, absent, protocol, image_size))


def evaluate(runs, protocol):
    """Per-sequence and overall figures of one tracker: runs holds (pred, gt, absent, image_size) of
    each sequence. Sequences without a scored frame are left out of a mean over sequences."""
    scores = [frame_scores(*run[:3], protocol, run[3]) for run in runs]
    per_sequence = [summary(*s) for s in scores]
    if PROTOCOLS[protocol].pooled:
        return per_sequence, summary(*(np.concatenate(parts) for parts in zip(*scores)))
    return per_sequence, aggregate(per_sequence)


def leaves_view(absent):
    """Whether the target is absent on some frame after the first where it is visible: a long-term sequence."""
    absent = np.asarray(absent, bool)
    return bool(absent[np.argmax(~absent) :].any())


def longterm_frames(pred, gt, absent, scores):
    """(overlaps, scores, visible) of the frames a one-pass run gave a score, i.e. those after the
    init, for metrics.longterm_figures: the IoU with the ground truth (0 where the target is absent),
    the tracker's confidence, and whether the target is visible."""
    scores = np.asarray(scores, float)
    gt = np.asarray(gt, float)
    absent = np.asarray(absent, bool) | np.isnan(gt).any(axis=1)
    overlaps = np.where(absent, 0.0, iou(pred, np.nan_to_num(gt)))
    scored = ~np.isnan(scores)
    return overlaps[scored], scores[scored], ~absent[scored]
