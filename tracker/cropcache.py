"""Training crops, cut once: every annotated frame and still-image box, centred on its target.

Each video is decoded once and each target cropped to CROP px around it (the search region plus a
margin for shift jitter), JPEG-compressed, one .npz per sequence or image set, behind a line with its SHA-256
(fileio.write_verified). A killed build resumes at the first missing file; a damaged one is built
again.
"""

import glob
import io
import json
import math
import os
import sys

import cv2
import numpy as np

from .errors import UserError
from .fileio import read_verified, write_verified
from .geometry import context_size, crop
from .progress import Progress

EXEMPLAR, INSTANCE = 127, 255
CROP = 271  # INSTANCE plus 8 px each side, so shifted search crops rarely need padding
MIN_SIDE = 8  # boxes smaller than this in either side carry too little appearance to learn from


def target_crop(frame, box, context):
    x, y, w, h = box
    side = context_size(w, h, context) * INSTANCE / EXEMPLAR * CROP / INSTANCE
    return crop(frame, (x + w / 2, y + h / 2), side, CROP, cv2.mean(frame)[:3])


def save_group(path, crops, frames, still, quality=90):
    encoded = [cv2.imencode(".jpg", c, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].ravel() for c in crops]
    offsets = np.cumsum([0] + [len(e) for e in encoded])
    buf = io.BytesIO()
    np.savez(
        buf,
        data=np.concatenate(encoded) if encoded else np.zeros(0, np.uint8),
        offsets=offsets,
        frames=np.asarray(frames, dtype=np.int64),
        still=still,
    )
    write_verified(path, buf.getvalue())


def read_group(path):
    """The arrays save_group wrote at `path`, or a UserError if the file is not exactly that."""
    blob = read_verified(path)
    if blob is None:
        raise UserError(
            f"cached crops {path} are damaged or from an older siamtrack; set data.root in the train config "
            "to the training data to build them again"
        )
    return np.load(io.BytesIO(blob))


def usable(box):
    return np.all(np.isfinite(box)) and min(box[2], box[3]) >= MIN_SIDE


def sequence_jobs(root, split, frame_stride):
    # Imported here so that training from a built cache needs no video decoder (PyAV).
    from .sequences import load_dataset

    for seq in load_dataset(root, "video", split):
        keep = [i for i, b in enumerate(seq.boxes) if usable(b)][::frame_stride]
        yield (
            seq.name,
            len(keep),
            False,
            lambda seq=seq, keep=set(keep): ((i, f, seq.boxes[i]) for i, f in enumerate(seq.frames()) if i in keep),
        )


def image_jobs(root, max_set_boxes):
    for ann in sorted(glob.glob(os.path.join(root, "images", "*", "annotations.json"))):
        folder = os.path.dirname(ann)
        with open(ann) as f:
            records = json.load(f)
        items = [(os.path.join(folder, r["file"]), b) for r in records for b in r["boxes"] if usable(b)]
        if max_set_boxes and len(items) > max_set_boxes:
            # One big set (thousands of small fish) would otherwise outweigh all the others.
            items = items[:: math.ceil(len(items) / max_set_boxes)]

        def crops(items=items):
            for k, (path, box) in enumerate(items):
                yield k, cv2.imread(path, cv2.IMREAD_COLOR), np.asarray(box, dtype=np.float64)

        # A still box pairs only with itself: the two views come from augmentation.
        yield "images_" + os.path.basename(folder), len(items), True, crops


def build(root, split, cache_dir, images=True, frame_stride=1, max_set_boxes=0, quality=90, context=0.5):
    """Fill a folder of `cache_dir` named for the settings with one .npz per sequence (and per image
    set); returns their paths. Every `frame_stride`-th usable frame of a sequence is kept, and at
    most about `max_set_boxes` boxes of an image set (0: all).

    Without the data folder, a cache built earlier (or copied from elsewhere) is used as it is.
    """
    cache_dir = os.path.join(cache_dir, f"stride{frame_stride}_boxes{max_set_boxes}_q{quality}_context{context}")
    if not os.path.isdir(root):
        paths = sorted(glob.glob(os.path.join(cache_dir, "*.npz")))
        if not paths:
            raise UserError(
                f"training data folder not found: {root}, and no cached crops in {cache_dir}; "
                "set data.root in the train config"
            )
        print(f"{root} not found: training on the {len(paths)} cached groups in {cache_dir}", file=sys.stderr)
        return paths
    jobs = list(sequence_jobs(root, split, frame_stride)) + (list(image_jobs(root, max_set_boxes)) if images else [])
    progress = Progress("crop cache", sum(job[1] for job in jobs), "targets")
    paths = [os.path.join(cache_dir, name + ".npz") for name, *_ in jobs]
    # A file that is not exactly what save_group wrote (a changed byte, or one from before the
    # checksum) would train on wrong crops without a sign: it is built again.
    damaged = [p for p in paths if os.path.exists(p) and read_verified(p) is None]
    if damaged:
        print(
            f"crop cache: {len(damaged)} cached file(s) damaged or from an older siamtrack, e.g. "
            f"{damaged[0]}: building them again",
            file=sys.stderr,
        )
    for path, (_, n, still, items) in zip(paths, jobs):
        if path in damaged or not os.path.exists(path):
            crops, frames = [], []
            for i, frame, box in items():
                crops.append(target_crop(frame, box, context))
                frames.append(i)
            save_group(path, crops, frames, still, quality)
        progress.update(n)
    progress.close()
    return paths


def load(paths):
    """All cached crops as one (N, CROP, CROP, 3) uint8 array, with each crop's group, frame and
    whether it is a still image."""
    crops, groups, frames, still = [], [], [], []
    for g, path in enumerate(paths):
        with read_group(path) as z:
            data, offsets = z["data"], z["offsets"]
            crops += [cv2.imdecode(data[a:b], cv2.IMREAD_COLOR) for a, b in zip(offsets[:-1], offsets[1:])]
            frames.append(z["frames"])
            groups.append(np.full(len(z["frames"]), g))
            still.append(np.full(len(z["frames"]), bool(z["still"])))
    if not crops:
        raise UserError("the crop cache is empty; check data.root and data.split in the train config")
    return np.stack(crops), np.concatenate(groups), np.concatenate(frames), np.concatenate(still)
