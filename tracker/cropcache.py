"""Training crops, cut once: every annotated frame and still-image box, centred on its target.

Each video is decoded once and each target cropped to CROP px around it (the search region plus a
margin for shift jitter), JPEG-compressed, one .npz per sequence or image set, behind a line with its SHA-256
(fileio.write_verified). A killed build resumes at the first missing file; a damaged one is built
again.
"""

import glob
import hashlib
import io
import math
import os
import sys

import cv2
import numpy as np

from .errors import UserError
from .fileio import read_verified, write_verified
from .geometry import context_size, crop
from .progress import Progress
from .stills import coco_sets, image_sets

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


def sequence_jobs(root, fmt, split, frame_stride):
    # Imported here so that training from a built cache needs no video decoder (PyAV).
    from .sequences import load_dataset

    for seq in load_dataset(root, fmt, split):
        keep = [i for i, b in enumerate(seq.boxes) if usable(b)][::frame_stride]
        yield (
            seq.name,
            len(keep),
            False,
            lambda seq=seq, keep=set(keep): ((i, f, seq.boxes[i]) for i, f in enumerate(seq.frames()) if i in keep),
        )


def image_set(name, items, max_set_boxes):
    """The job of one set of still-image boxes, (image path, x y w h box) each: a still box pairs
    only with itself (the two views come from augmentation)."""
    items = [(path, np.asarray(box, dtype=np.float64)) for path, box in items if usable(box)]
    if max_set_boxes and len(items) > max_set_boxes:
        # One big set (thousands of small fish) would otherwise outweigh all the others.
        items = items[:: math.ceil(len(items) / max_set_boxes)]

    def crops(items=items):
        for k, (path, box) in enumerate(items):
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise UserError(f"image {path} is missing or unreadable; restore it or remove its boxes")
            yield k, image, box

    return name, len(items), True, crops


def source_folder(cache_dir, source):
    """The cache's folder for one data source (a dataset folder, a COCO file): named for it, so
    that groups of the same name from two sources never share a file."""
    digest = hashlib.sha256(os.fspath(source).encode()).hexdigest()[:10]
    return os.path.join(cache_dir, f"{os.path.basename(os.path.normpath(source))}-{digest}")


def build(
    root,
    split,
    cache_dir,
    images=True,
    frame_stride=1,
    max_set_boxes=0,
    quality=90,
    context=0.5,
    fmt="auto",
    coco=("", ""),
    more=(),
):
    """Fill folders of `cache_dir` named for the settings and each source with one .npz per
    sequence (and per image set); returns their paths. The sequences are those of the `fmt` layout
    at `root` named in the `split` file (None: all of them); every `frame_stride`-th usable frame
    of a sequence is kept, and at most about `max_set_boxes` boxes of an image set (0: all). `coco`:
    a COCO detection file and its images' folder, or empty strings for none. `more`: further
    sequence sources, each (root, fmt, split).

    Without the data folder, a cache built earlier (or copied from elsewhere) is used as it is:
    every source's groups of these settings.
    """
    settings = f"stride{frame_stride}_boxes{max_set_boxes}_q{quality}_context{context}"
    cache_dir = os.path.join(cache_dir, settings)
    coco_file, coco_images = coco
    if not os.path.isdir(root):
        paths = sorted(glob.glob(os.path.join(cache_dir, "*", "*.npz")))
        if not paths:
            raise UserError(
                f"training data folder not found: {root}, and no cached crops for it in {cache_dir}; "
                "set data.root in the train config"
            )
        print(f"{root} not found: training on the {len(paths)} cached groups in {cache_dir}", file=sys.stderr)
        return paths
    here = source_folder(cache_dir, root)
    jobs = [(here, job) for job in sequence_jobs(root, fmt, split, frame_stride)]
    if images:
        jobs += [(here, image_set(name, items, max_set_boxes)) for name, items in image_sets(root)]
    if coco_file:
        coco_folder = source_folder(cache_dir, coco_file)
        jobs += [(coco_folder, image_set(n, items, max_set_boxes)) for n, items in coco_sets(coco_file, coco_images)]
    for other, other_fmt, other_split in more:
        if not os.path.isdir(other):
            raise UserError(f"training data folder not found: {other}; check the roots in data.sources")
        jobs += [
            (source_folder(cache_dir, other), job) for job in sequence_jobs(other, other_fmt, other_split, frame_stride)
        ]
    progress = Progress("crop cache", sum(job[1] for _, job in jobs), "targets")
    paths = [os.path.join(folder, job[0] + ".npz") for folder, job in jobs]
    # A file that is not exactly what save_group wrote (a changed byte, or one from before the
    # checksum) would train on wrong crops without a sign: it is built again.
    damaged = [p for p in paths if os.path.exists(p) and read_verified(p) is None]
    if damaged:
        print(
            f"crop cache: {len(damaged)} cached file(s) damaged or from an older siamtrack, e.g. "
            f"{damaged[0]}: building them again",
            file=sys.stderr,
        )
    for path, (_, (_, n, still, items)) in zip(paths, jobs):
        if path in damaged or not os.path.exists(path):
            crops, frames = [], []
            for i, frame, box in items():
                crops.append(target_crop(frame, box, context))
                frames.append(i)
            save_group(path, crops, frames, still, quality)
        progress.update(n)
    progress.close()
    return paths


class JpegCrops:
    """The cached crops kept JPEG-compressed in memory (~25 KB each instead of 220 KB decoded), each
    decoded when a batch needs it: `crops[indices]` is a (n, 3, CROP, CROP) uint8 tensor, as the
    decoded array's would be."""

    def __init__(self, data, offsets):
        self.data, self.offsets = data, offsets

    def __len__(self):
        return len(self.offsets) - 1

    def decode(self, indices):
        """The crops at `indices`, (n, CROP, CROP, 3) uint8."""
        a, b = self.offsets[indices], self.offsets[np.asarray(indices) + 1]
        return np.stack([cv2.imdecode(self.data[i:j], cv2.IMREAD_COLOR) for i, j in zip(a, b)])

    def __getitem__(self, indices):
        import torch

        return torch.from_numpy(self.decode(np.asarray(indices))).permute(0, 3, 1, 2)


def load(paths, decode=True):
    """All cached crops, as one (N, CROP, CROP, 3) uint8 array (or, `decode` False, as JpegCrops),
    with each crop's group, frame and whether it is a still image."""
    data, offsets, groups, frames, still = [], [np.zeros(1, np.int64)], [], [], []
    for g, path in enumerate(paths):
        with read_group(path) as z:
            data.append(z["data"])
            offsets.append(z["offsets"][1:] + offsets[-1][-1])
            frames.append(z["frames"])
            groups.append(np.full(len(z["frames"]), g))
            still.append(np.full(len(z["frames"]), bool(z["still"])))
    crops = JpegCrops(np.concatenate(data) if data else np.zeros(0, np.uint8), np.concatenate(offsets))
    if not len(crops):
        raise UserError("the crop cache is empty; check data.root and data.split in the train config")
    if decode:
        crops = crops.decode(np.arange(len(crops)))
    return crops, np.concatenate(groups), np.concatenate(frames), np.concatenate(still)
