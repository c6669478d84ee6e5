"""Where `track` writes and in what layout: a new numbered folder under runs/track by default, and
the boxes as groundtruth.txt-like lines, CSV rows with a header, or JSON with the run's details."""

import itertools
import json
import os
import re
import sys
import urllib.parse

from .errors import UserError

RUNS = os.path.join("runs", "track")  # relative to the working directory, like runs/demo
CSV_HEADER = "frame,x,y,w,h,score,lost\n"
STDOUT = "-"


def source_name(source):
    """A short name for a source, fit for a folder: the file or folder's name without extension,
    the last part of a URL's path (or its host), camera<N> for a camera index."""
    if source.isdigit():
        return f"camera{source}"
    url = urllib.parse.urlsplit(source)
    if url.scheme and url.netloc:
        base = os.path.basename(url.path.rstrip("/")) or url.hostname
    else:
        base = os.path.basename(os.path.abspath(source))
    return re.sub(r"[^\w-]+", "_", os.path.splitext(base)[0]).strip("_") or "source"


def new_folder(name, root=RUNS):
    """Make and return root/name, or root/name2, root/name3, ... if it exists: a run never writes
    into an earlier one's folder, even one started at the same moment."""
    for n in itertools.count(1):
        folder = os.path.join(root, name if n == 1 else f"{name}{n}")
        try:
            os.makedirs(folder)
            return folder
        except FileExistsError:
            continue
        except OSError as e:
            raise UserError(
                f"cannot make {folder}: {e.strerror}; run from a writable folder or give --output and --boxes"
            ) from None


def box_format(path):
    extension = os.path.splitext(path)[1].lower()
    return extension[1:] if extension in (".csv", ".json") else "txt"


class BoxWriter:
    """Writes the boxes to the open file `f` as tracking goes: x,y,w,h lines like groundtruth.txt
    for `fmt` 'txt', CSV rows with a header for 'csv', or, on finish(), JSON holding `details` (a
    dict: source, frame size, tracker, ...) and every frame's box, score and lost flag for 'json'."""

    def __init__(self, f, fmt, details):
        self._f, self._fmt, self._details, self._frames = f, fmt, details, []
        # A pipe's reader, e.g. a script following a camera, wants each box as soon as it exists.
        self._live = f is sys.stdout
        if fmt == "csv":
            f.write(CSV_HEADER)

    def add(self, frame, box, score, lost):
        """Frame number `frame` (of the source), tracked at `box` with `score`, `lost` or not."""
        box = [round(float(v), 2) for v in box]
        if self._fmt == "json":
            self._frames.append({"frame": frame, "box": box, "score": round(score, 4), "lost": lost})
            return
        values = ",".join(f"{v:.2f}" for v in box)
        self._f.write(f"{frame},{values},{score:.4f},{int(lost)}\n" if self._fmt == "csv" else values + "\n")
        if self._live:
            self._f.flush()

    def finish(self):
        if self._fmt == "json":
            json.dump({**self._details, "frames": self._frames}, self._f, indent=1)
