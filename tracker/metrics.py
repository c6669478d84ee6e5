"""Tracking metrics: one-pass (OTB, GOT-10k, LaSOT), supervised (VOT) and long-term (VOT-LT).

Boxes are x, y, w, h in continuous coordinates (area = w * h, no +1 as in old Matlab code; the
toolkits' +1 cancels out of IoU and centre offsets). Which frames count, and how, is each
benchmark's protocol: see protocols.py.
"""

import numpy as np

THRESHOLDS_IOU = np.linspace(0, 1, 21)
THRESHOLDS_PX = np.arange(0, 51)
# Divided, not stepped, so that entry 20 is exactly 0.2: the value the toolkits report.
THRESHOLDS_NORM = np.arange(0, 51) / 100
# Where the thresholds the toolkits report precision at lie in both lists: 20 px (P@20) and 0.2 of
# the target's size.
REPORTED = 20
# The one-pass figures of a run, as results.json and compare.py name them.
METRICS = ("auc", "precision", "norm_precision", "ao", "sr50", "sr75")


def iou(a, b):
    """Intersection over union of matching rows; 0 where both boxes have no area."""
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    lo = np.maximum(a[:, :2], b[:, :2])
    hi = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _centre_offset(a, b):
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    return (a[:, :2] + a[:, 2:] / 2) - (b[:, :2] + b[:, 2:] / 2)


def center_error(a, b):
    """Distance in pixels between the box centres."""
    return np.linalg.norm(_centre_offset(a, b), axis=1)


def normalized_center_error(a, b):
    """Centre offset in units of the ground-truth `b`'s width and height, so big targets are not favoured."""
    b = np.atleast_2d(np.asarray(b, float))
    return np.linalg.norm(_centre_offset(a, b) / b[:, 2:], axis=1)


def _fraction(hits):
    """Per-threshold fraction of frames that hit; NaN when there is no frame to score."""
    return hits.mean(axis=0) if len(hits) else np.full(hits.shape[1], np.nan)


def success_curve(ious):
    """Fraction of frames whose IoU is strictly above each threshold in THRESHOLDS_IOU (OTB toolkit)."""
    return _fraction(np.asarray(ious, float)[:, None] > THRESHOLDS_IOU)


def precision_curve(errors, thresholds=THRESHOLDS_PX):
    """Fraction of frames whose error is at most each threshold."""
    return _fraction(np.asarray(errors, float)[:, None] <= thresholds)


def clip_to_image(boxes, size):
    """Boxes cut to a `size` = (width, height) image as the GOT-10k toolkit cuts them: the corner moved
    into the image, then the width and height cut at its right and bottom edges (so a box sticking out
    left or above is moved, not cut)."""
    boxes = np.array(boxes, float)
    for corner, extent, limit in ((0, 2, size[0]), (1, 3, size[1])):
        boxes[:, corner] = np.clip(boxes[:, corner], 0, limit)
        boxes[:, extent] = np.clip(boxes[:, extent], 0, limit - boxes[:, corner])
    return boxes


def summary(ious, errors, norm_errors):
    """Figures and curves of a set of scored frames, given each frame's IoU, centre error in pixels and
    centre error in ground-truth sizes. A frame scored as a miss has IoU 0 and errors inf."""
    ious = np.asarray(ious, float)
    success, precision = success_curve(ious), precision_curve(errors)
    norm_precision = precision_curve(norm_errors, THRESHOLDS_NORM)
    sr50, sr75 = _fraction(ious[:, None] > np.array([0.5, 0.75]))
    return {
        "auc": float(success.mean()),
        "precision": float(precision[REPORTED]),
        "norm_precision": float(norm_precision[REPORTED]),
        "ao": float(ious.mean()) if len(ious) else np.nan,
        "sr50": float(sr50),
        "sr75": float(sr75),
        "frames": len(ious),
        "success_curve": success.tolist(),
        "precision_curve": precision.tolist(),
        "norm_precision_curve": norm_precision.tolist(),
    }


def aggregate(per_sequence):
    """Mean over sequences of every metric and curve, each sequence weighing the same; frames are summed.

    Sequences without a scored frame are left out: they hold no evidence either way.
    """
    scored = [m for m in per_sequence if m["frames"]]
    out = {}
    for key in per_sequence[0]:
        values = np.array([m[key] for m in scored], float)
        if key == "frames":
            out[key] = int(values.sum())
        elif values.ndim == 2:
            out[key] = values.mean(axis=0).tolist()
        else:
            out[key] = float(values.mean()) if len(values) else np.nan
    return out


def vot_accuracy_robustness(ious, failures):
    """Accuracy and robustness of a supervised (re-initialising) run.

    ious: per sequence, the per-frame IoU with NaN for frames that do not count (burn-in after each
    (re-)initialisation and frames while failed); failures: per sequence, the number of failures.
    Accuracy is the mean IoU over all counted frames pooled; robustness is failures per 100 frames
    (all frames of all sequences), so long and short datasets compare.
    """
    pooled = np.concatenate([np.asarray(x, float) for x in ious])
    counted = pooled[~np.isnan(pooled)]
    total = int(sum(failures))
    return {
        "accuracy": float(counted.mean()) if len(counted) else np.nan,
        "robustness": 100.0 * total / len(pooled),
        "failures": total,
        "frames": len(pooled),
    }


def eao_curve(fragments):
    """Expected average overlap for every sequence length 1..L (Kristan et al., VOT2015).

    fragments: (overlaps, failed) for each stretch a supervised run tracked: the IoUs from the frame after
    a (re-)initialisation up to the failure (excluded) or the end of the sequence. A fragment that
    failed scores 0 from then on, so it counts at every length; one that reached the end tells
    nothing about longer sequences, so it counts only up to its own length. Entry n-1 is the mean,
    over the fragments that count at length n, of their average overlap over their first n frames.
    """
    length = max([len(o) for o, _ in fragments] + [1])
    padded = np.zeros((len(fragments), length))
    counts = np.zeros((len(fragments), length), bool)
    for row, (overlaps, failed) in enumerate(fragments):
        padded[row, : len(overlaps)] = overlaps
        counts[row] = True if failed else np.arange(length) < len(overlaps)
    average = np.cumsum(padded, axis=1) / np.arange(1, length + 1)
    return (average * counts).sum(axis=0) / counts.sum(axis=0)


def eao(fragments, interval=None):
    """Expected average overlap: the EAO curve averaged over sequence lengths `interval` = (low, high),
    1-based and inclusive. VOT picks the interval from its dataset's typical sequence lengths; without
    one we take the whole range 1..L, L being the longest fragment."""
    curve = eao_curve(fragments)
    low, high = interval or (1, len(curve))
    return float(curve[low - 1 : high].mean())


def longterm_thresholds(scores, resolution=100):
    """The confidence thresholds the VOT-LT toolkit sweeps: +inf, then `resolution` - 2 of the scores
    (NaN left out) at evenly spaced ranks from the highest, or all of them if there are no more, then -inf."""
    scores = np.sort(np.asarray(scores, float)[~np.isnan(scores)])[::-1]
    if len(scores) > resolution - 2:
        step = len(scores) // (resolution - 2)
        scores = scores[np.round(np.linspace(step, len(scores) - step, resolution - 2)).astype(int)]
    return np.concatenate([[np.inf], scores, [-np.inf]])


def tracking_precision_recall(overlaps, scores, visible, thresholds):
    """VOT-LT tracking precision and recall of one sequence at each threshold (Lukezic et al., "Now you
    see me", 2020): at threshold t the tracker reports the target on the frames whose score is t or
    more. Precision is the mean overlap over those frames (1 where there are none), recall the summed
    overlap over them divided by the number of frames where the target is `visible`. overlaps: per
    frame, the IoU with the ground truth, 0 where the target is not visible."""
    reported = np.asarray(scores, float)[:, None] >= np.asarray(thresholds)
    hits = (np.asarray(overlaps, float)[:, None] * reported).sum(axis=0)
    count = reported.sum(axis=0)
    precision = np.divide(hits, count, out=np.ones(len(hits)), where=count > 0)
    return precision, hits / np.sum(visible)


def longterm_figures(sequences, resolution=100):
    """VOT-LT tracking precision, recall and F-score of a tracker over `sequences`, each
    (overlaps, scores, visible) as for tracking_precision_recall; those where the target is never
    visible are left out. As the VOT toolkit does: one set of thresholds from the scores of all
    sequences, precision and recall averaged over sequences at each, F = 2PR / (P + R); the F-score
    is its maximum over the thresholds, precision and recall their values there."""
    sequences = [s for s in sequences if np.any(s[2])]
    if not sequences:
        return {"precision": np.nan, "recall": np.nan, "fscore": np.nan}
    thresholds = longterm_thresholds(np.concatenate([s[1] for s in sequences]), resolution)
    precision, recall = np.mean([tracking_precision_recall(*s, thresholds) for s in sequences], axis=0)
    total = precision + recall
    f = np.divide(2 * precision * recall, total, out=np.zeros(len(total)), where=total > 0)
    best = int(np.argmax(f))
    return {"precision": float(precision[best]), "recall": float(recall[best]), "fscore": float(f[best])}


def lost_precision_recall(lost, overlaps, visible):
    """How well a per-frame `lost` flag marks the frames where the box is off the target (IoU 0,
    or the target not `visible`) against those where it is on it (IoU above 0.3); frames in
    between count for neither. Precision: of the flagged frames, the share off the target; recall:
    of the frames off the target, the share flagged (NaN where there are none to divide by)."""
    lost, overlaps, visible = (np.asarray(a) for a in (lost, overlaps, visible))
    off = ~visible | (overlaps <= 0)
    on = visible & (overlaps > 0.3)
    flagged = lost & (on | off)
    hits = np.sum(lost & off)
    return {
        "precision": float(hits / flagged.sum()) if flagged.any() else np.nan,
        "recall": float(hits / off.sum()) if off.any() else np.nan,
    }


def paired_difference(a, b, margin=0.01):
    """How B differs from A over the sequences both have: a and b map sequence -> score (e.g. AUC).

    Returns the mean of the per-sequence differences b - a, its standard error (a mean over few
    sequences moves a lot when one of them flips between locking on and losing the target), the
    number of sequences, and on how many B is better and worse by more than `margin`.
    """
    names = sorted(set(a) & set(b))
    d = np.array([b[n] - a[n] for n in names], float)
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return {
        "mean": float(d.mean()) if len(d) else float("nan"),
        "se": float(se),
        "sequences": len(d),
        "better": int(np.sum(d > margin)),
        "worse": int(np.sum(d < -margin)),
    }
