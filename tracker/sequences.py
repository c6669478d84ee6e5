"""Readers for the tracking datasets' folder layouts, all into one Sequence type.

Boxes come out as x, y, w, h, 0-based (the first pixel is (0, 0)). OTB and LaSOT write Matlab's
1-based coordinates and are shifted by 1. VOT, GOT-10k and UAV123 boxes are taken as they are,
as their own toolkits (the vot toolkit, got10k) take them.
"""

import os
import re
import sys
from dataclasses import dataclass, field
from functools import partial
from glob import glob
from itertools import islice

import numpy as np

from .errors import UserError
from .video import IMAGE_EXTENSIONS, open_source, read_image

# What detect_format looks for, in the order it looks.
LAYOUTS = {
    "video": "sequences/<name>/frames.mp4 + groundtruth.txt, or a video file with a .txt of boxes beside it",
    "uav123": "data_seq/UAV123/<seq>/*.jpg + anno/UAV123/<seq>.txt",
    "got10k": "list.txt + <seq>/*.jpg, groundtruth.txt, absence.label",
    "vot": "list.txt + <seq>/color/*.jpg (or <seq>/*.jpg) + groundtruth.txt",
    "lasot": "<class>/<class>-<n>/img/*.jpg + groundtruth.txt",
    "otb": "<seq>/img/*.jpg + groundtruth_rect.txt",
}
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
# Per-frame labels (in Sequence.attributes) that say the target cannot be seen.
ABSENCE_LABELS = ("absence", "full_occlusion", "out_of_view")

# UAV123 cuts some long videos into sub-sequences <folder>_1, _2, ...: the 1-based first frame of
# each, from the benchmark's configSeqs.m. A sub-sequence is as long as its annotation file.
UAV123_STARTS = {
    "bird1": (1, 775, 1573),
    "car1": (1, 751, 1627),
    "car16": (1, 415),
    "car6": (1, 487, 1807, 2953, 3925),
    "car8": (1, 1357),
    "group1": (1, 1333, 2515, 3925),
    "group2": (1, 907, 1771),
    "group3": (1, 1567, 2827, 4369),
    "person12": (1, 601),
    "person14": (1, 847, 1813),
    "person17": (1, 1501),
    "person19": (1, 1243, 2791),
    "person2": (1, 1189),
    "person4": (1, 1501),
    "person5": (1, 877),
    "person7": (1, 1249),
    "person8": (1, 1075),
    "truck4": (1, 577),
    "uav1": (1, 1555, 2473),
}


@dataclass
class Sequence:
    name: str
    boxes: np.ndarray  # (N, 4) float64 x, y, w, h, 0-based; a NaN row: target absent
    source: str | list[str]  # a video file, or the sorted frame image files
    attributes: dict = field(default_factory=dict)  # per-frame labels of the layout, e.g. "absence", "cover"

    def __len__(self):
        return len(self.boxes)

    @property
    def absent(self):
        """True for frames where the target is not visible: a NaN box or an absence label."""
        absent = np.isnan(self.boxes).any(axis=1)
        for label in ABSENCE_LABELS:
            if label in self.attributes:
                absent |= np.asarray(self.attributes[label], bool)
        return absent

    def frames(self):
        """The frames as BGR uint8 arrays, as many as there are boxes."""
        if isinstance(self.source, str):
            return _video_frames(self.source, len(self))
        return (read_image(path) for path in self.source)


def _video_frames(path, count):
    with open_source(path) as frames:
        yield from islice(frames, count)


def parse_box_line(line, path="<text>", lineno=1):
    """One ground-truth line: 4 numbers x,y,w,h or an 8-number polygon (turned into its bounding box),
    separated by commas, spaces or tabs."""
    where = f"cannot read ground truth: {path} line {lineno}"
    text = line.strip()
    fields = re.split(r"[,\s]+", text) if text else []
    if len(fields) not in (4, 8):
        raise UserError(f"{where}: expected 4 numbers (or 8 for a polygon), got {len(fields)}; fix or remove the line")
    try:
        values = np.array([float(f) for f in fields])
    except ValueError:
        raise UserError(f"{where}: {text[:60]!r} is not a list of numbers; fix or remove the line") from None
    if np.isinf(values).any():
        raise UserError(f"{where}: infinite coordinate; write nan,nan,nan,nan for an absent target")
    if len(values) == 8:
        xs, ys = values[0::2], values[1::2]
        values = np.array([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()])
    if np.isnan(values).any():
        values[:] = np.nan
    return values


def read_boxes(path):
    """(N, 4) boxes of a ground-truth file, one line per frame, as written (no coordinate shift)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().rstrip().splitlines()
    except OSError as e:
        raise UserError(f"cannot read ground truth: {path}: {e.strerror}; check the dataset path") from None
    return np.array([parse_box_line(line, path, i) for i, line in enumerate(lines, 1)]).reshape(-1, 4)


def _read_labels(path, count):
    """Per-frame integer labels, one a line (GOT-10k) or comma-separated on one line (LaSOT)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            labels = np.array([int(v) for v in re.split(r"[,\s]+", f.read().strip())])
    except OSError as e:
        raise UserError(f"cannot read labels: {path}: {e.strerror}; check the dataset path") from None
    except ValueError:
        raise UserError(f"cannot read labels: {path}: expected whole numbers separated by commas or lines") from None
    if len(labels) != count:
        raise UserError(f"cannot read labels: {path}: {len(labels)} labels for {count} ground-truth boxes")
    return labels


def _images(folder):
    try:
        names = sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
    except OSError:
        raise UserError(f"frame folder missing: {folder}; check the dataset is complete") from None
    return [os.path.join(folder, f) for f in names]


def _shift(boxes):
    """Matlab's 1-based coordinates to 0-based."""
    return boxes - [1, 1, 0, 0]


def _list_file(path):
    """The names in a sequence list, each once: a name listed twice would be scored twice."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise UserError(f"cannot read sequence list {path}: {e.strerror}; check the dataset path") from None
    repeated = [name for i, name in enumerate(names) if name in names[:i]]
    if repeated:
        raise UserError(f"sequence list {path} names {repeated[0]} more than once; list each sequence once")
    return names


# Each layout: a lister of its sequence names, and a loader of one sequence by name.


def _otb_names(root):
    # groundtruth_rect.2.txt is the second target in its folder: sequence <folder>.2
    files = glob(os.path.join(root, "*", "groundtruth_rect*.txt"))
    return sorted(
        os.path.basename(os.path.dirname(f)) + os.path.basename(f)[len("groundtruth_rect") : -len(".txt")]
        for f in files
    )


def _otb_load(root, name):
    folder, dot, target = name.partition(".")
    gt = os.path.join(root, folder, f"groundtruth_rect{dot}{target}.txt")
    return Sequence(name, _shift(read_boxes(gt)), _images(os.path.join(root, folder, "img")))


def _got10k_load(root, name):
    folder = os.path.join(root, name)
    boxes = read_boxes(os.path.join(folder, "groundtruth.txt"))
    attributes = {}
    for label in ("absence", "cover"):
        path = os.path.join(folder, label + ".label")
        if os.path.exists(path):
            attributes[label] = _read_labels(path, len(boxes))
    return Sequence(name, boxes, _images(folder), attributes)


def _vot_load(root, name):
    folder = os.path.join(root, name)
    color = os.path.join(folder, "color")
    frames = _images(color if os.path.isdir(color) else folder)
    return Sequence(name, read_boxes(os.path.join(folder, "groundtruth.txt")), frames)


def _lasot_names(root):
    files = glob(os.path.join(root, "*", "*-*", "groundtruth.txt"))
    return sorted(os.path.basename(os.path.dirname(f)) for f in files)


def _lasot_load(root, name):
    folder = os.path.join(root, name.rsplit("-", 1)[0], name)
    boxes = _shift(read_boxes(os.path.join(folder, "groundtruth.txt")))
    attributes = {
        label: _read_labels(os.path.join(folder, label + ".txt"), len(boxes))
        for label in ("full_occlusion", "out_of_view")
    }
    return Sequence(name, boxes, _images(os.path.join(folder, "img")), attributes)


def _uav123_names(root):
    files = glob(os.path.join(root, "anno", "UAV123", "*.txt"))
    return sorted(os.path.splitext(os.path.basename(f))[0] for f in files)


def _uav123_load(root, name):
    boxes = read_boxes(os.path.join(root, "anno", "UAV123", name + ".txt"))
    folder, start = name, 1
    if not os.path.isdir(os.path.join(root, "data_seq", "UAV123", name)):
        folder, _, part = name.rpartition("_")
        starts = UAV123_STARTS.get(folder, ())
        if not part.isdigit() or not 1 <= int(part) <= len(starts):
            raise UserError(
                f"UAV123 sequence {name}: no folder data_seq/UAV123/{name} and not a known sub-sequence;"
                " check the dataset is complete"
            )
        start = starts[int(part) - 1]
    frames = _images(os.path.join(root, "data_seq", "UAV123", folder))
    return Sequence(name, boxes, frames[start - 1 : start - 1 + len(boxes)])


def _video_names(root):
    if os.path.isfile(root):
        return [os.path.splitext(os.path.basename(root))[0]]
    files = glob(os.path.join(root, "sequences", "*", "frames.mp4"))
    return sorted(os.path.basename(os.path.dirname(f)) for f in files)


def _video_load(root, name):
    if os.path.isfile(root):
        video, gt = root, os.path.splitext(root)[0] + ".txt"
    else:
        folder = os.path.join(root, "sequences", name)
        video, gt = os.path.join(folder, "frames.mp4"), os.path.join(folder, "groundtruth.txt")
    return Sequence(name, read_boxes(gt), video)


def _listed_names(root):
    return _list_file(os.path.join(root, "list.txt"))


READERS = {
    "otb": (_otb_names, _otb_load),
    "got10k": (_listed_names, _got10k_load),
    "vot": (_listed_names, _vot_load),
    "lasot": (_lasot_names, _lasot_load),
    "uav123": (_uav123_names, _uav123_load),
    "video": (_video_names, _video_load),
}


def detect_format(root):
    """The layout of the dataset at `root` (a folder, or a video file), one of LAYOUTS."""
    root = os.fspath(root)
    at = partial(os.path.join, root)
    if os.path.isfile(root) and root.lower().endswith(VIDEO_EXTS):
        return "video"
    if glob(at("sequences", "*", "frames.mp4")):
        return "video"
    if os.path.isdir(at("data_seq", "UAV123")) and os.path.isdir(at("anno", "UAV123")):
        return "uav123"
    if os.path.isfile(at("list.txt")):
        first = (_list_file(at("list.txt")) or [""])[0]
        got10k = os.path.exists(at(first, "absence.label")) or os.path.exists(at(first, "meta_info.ini"))
        return "got10k" if got10k else "vot"
    if glob(at("*", "*-*", "groundtruth.txt")):
        return "lasot"
    if glob(at("*", "groundtruth_rect*.txt")):
        return "otb"
    looked = "; ".join(f"{fmt}: {layout}" for fmt, layout in LAYOUTS.items())
    raise UserError(f"{root}: not a dataset layout I know; looked for {looked}")


def _split_names(root, split):
    """Names in a split file: a path, or a file in the dataset folder named with or without .txt."""
    split = os.fspath(split)
    for path in (split, os.path.join(root, split), os.path.join(root, split + ".txt")):
        if os.path.isfile(path):
            return _list_file(path)
    raise UserError(f"split file not found: {split}; give a text file of sequence names, one a line")


def _frame_count(sequence):
    """Frames in the sequence's source; None when a video's header doesn't say."""
    if isinstance(sequence.source, str):
        with open_source(sequence.source) as frames:
            return frames.count
    return len(sequence.source)


def _match_lengths(sequence, lenient):
    """Check frames and boxes pair up; with lenient, cut both to the shorter."""
    frames, boxes = _frame_count(sequence), len(sequence)
    if frames in (boxes, None):
        return sequence
    if not lenient:
        raise UserError(
            f"sequence {sequence.name} has {frames} frames but {boxes} ground-truth boxes;"
            " fix the data or pass --lenient to cut both to the shorter"
        )
    n = min(frames, boxes)
    print(
        f"warning: sequence {sequence.name} has {frames} frames and {boxes} boxes; using the first {n}", file=sys.stderr
    )
    sequence.boxes = sequence.boxes[:n]
    sequence.attributes = {k: v[:n] for k, v in sequence.attributes.items()}
    if not isinstance(sequence.source, str):
        sequence.source = sequence.source[:n]
    return sequence


def load_dataset(
    root: str | os.PathLike, fmt: str = "auto", split: str | os.PathLike | None = None, lenient: bool = False
) -> list[Sequence]:
    """Every sequence of the dataset at `root`, or those named in the `split` file, in that file's order."""
    root = os.fspath(root)
    if not os.path.exists(root):
        raise UserError(f"dataset not found: {root}; give a dataset folder or a video file")
    # Read first: a missing split file is the plainer mistake, and its folder may be no dataset.
    wanted = None if split is None else _split_names(root, split)
    if fmt == "auto":
        fmt = detect_format(root)
    if fmt not in READERS:
        raise UserError(f"unknown dataset format {fmt!r}; use auto or one of {', '.join(LAYOUTS)}")
    list_names, load = READERS[fmt]
    names = list_names(root)
    if not names:
        raise UserError(f"no {fmt} sequences in {root}; expected {LAYOUTS[fmt]}")
    if wanted is not None:
        known, names = set(names), wanted
        missing = [n for n in names if n not in known]
        if missing:
            raise UserError(
                f"split {split} names {len(missing)} sequences not in {root}, e.g. {missing[0]};"
                " check the split matches the dataset"
            )
    return [_match_lengths(load(root, name), lenient) for name in names]
