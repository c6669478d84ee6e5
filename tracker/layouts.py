"""Sequences written out in another benchmark layout: GOT-10k, LaSOT or OTB folders of JPEG frames
with their box files, each as the readers in sequences.py read it back (0-based boxes kept for
GOT-10k, 1-based written for LaSOT and OTB; an absent target as a zero box with its absence label
where the layout has one)."""

import os

import cv2
import numpy as np

from .errors import UserError
from .fileio import write_text
from .progress import Progress

WRITTEN = ("got10k", "lasot", "otb")


def _box_lines(boxes, shift):
    """x,y,w,h lines, `shift` added to x and y; absent targets as 0,0,0,0."""
    lines = []
    for box in boxes:
        x, y, w, h = (0.0, 0.0, 0.0, 0.0) if np.isnan(box).any() else (box[0] + shift, box[1] + shift, box[2], box[3])
        lines.append(f"{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n")
    return "".join(lines)


def _folder_name(name):
    """A sequence name fit for the layouts' folders (LaSOT splits class from number at '-')."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def sequence_folder(out, fmt, name):
    """Where sequence `name` goes in a layout at `out`, and its name there."""
    name = _folder_name(name)
    if fmt == "lasot":
        return os.path.join(out, name, f"{name}-1"), f"{name}-1"
    return os.path.join(out, name), name


def write_sequence(seq, out, fmt):
    """Write `seq` (a sequences.Sequence) into the `fmt` layout at `out`; its name there."""
    folder, name = sequence_folder(out, fmt, seq.name)
    frames = os.path.join(folder, "img") if fmt in ("lasot", "otb") else folder
    os.makedirs(frames, exist_ok=True)
    digits = 4 if fmt == "otb" else 8
    for i, frame in enumerate(seq.frames(), 1):
        if not cv2.imwrite(os.path.join(frames, f"{i:0{digits}d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise UserError(f"cannot write frames into {frames}; check the folder is writable and has space")
    absent = "".join("1\n" if a else "0\n" for a in seq.absent)
    if fmt == "got10k":
        write_text(os.path.join(folder, "groundtruth.txt"), _box_lines(seq.boxes, 0))
        write_text(os.path.join(folder, "absence.label"), absent)
    elif fmt == "lasot":
        write_text(os.path.join(folder, "groundtruth.txt"), _box_lines(seq.boxes, 1))
        write_text(os.path.join(folder, "full_occlusion.txt"), ",".join("0" * len(seq)))
        write_text(os.path.join(folder, "out_of_view.txt"), ",".join(absent.split()))
    else:
        write_text(os.path.join(folder, "groundtruth_rect.txt"), _box_lines(seq.boxes, 1))
    return name


def convert(sequences, out, fmt):
    """Write `sequences` into the `fmt` layout (one of WRITTEN) at `out`, with the layout's list of
    names where it has one (GOT-10k's list.txt; LaSOT's training_set.txt); the names written."""
    if fmt not in WRITTEN:
        raise UserError(f"cannot write the {fmt} layout; choose from {', '.join(WRITTEN)}")
    os.makedirs(out, exist_ok=True)
    progress = Progress("convert", sum(len(s) for s in sequences), "frames")
    names = []
    for seq in sequences:
        names.append(write_sequence(seq, out, fmt))
        progress.update(len(seq))
    progress.close()
    listing = {"got10k": "list.txt", "lasot": "training_set.txt"}.get(fmt)
    if listing:
        write_text(os.path.join(out, listing), "".join(n + "\n" for n in names))
    return names
