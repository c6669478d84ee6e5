"""Where `track` writes and in what layout: a new numbered folder under runs/track by default, and
the boxes as groundtruth.txt-like lines (several targets: the MOT Challenge's lines), CSV rows with
a header, or JSON with the run's details."""

import itertools
import json
import os
import re
import sys
import urllib.parse

from .errors import UserError

RUNS = os.path.join("runs", "track")  # relative to the working directory, like runs/demo
CSV_HEADER = "frame,x,y,w,h,score,lost\n"
TARGETS_CSV_HEADER = "frame,id,x,y,w,h,score,lost\n"
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
    """Writes the boxes of `targets` targets to the open file `f` as tracking goes, for `fmt`:

    - 'txt': one target's x,y,w,h lines like groundtruth.txt; several targets' lines in the MOT
      Challenge layout, frame,id,x,y,w,h,score,-1,-1,-1, frames counted from 1 as there;
    - 'mot': the MOT Challenge layout whatever the number of targets;
    - 'csv': rows with a header (frame,x,y,w,h,score,lost; with several targets an id after frame);
    - 'json', on finish(): `details` (a dict: source, frame size, tracker, ...) and every frame's
      box, score and lost flag (several targets: a list of them with their ids, under "targets").

    Target ids are 1, 2, ... in the order the boxes were given."""

    def __init__(self, f, fmt, details, targets=1):
        self._f, self._fmt, self._details, self._frames = f, fmt, details, []
        self._several = targets > 1 or fmt == "mot"
        # A pipe's reader, e.g. a script following a camera, wants each box as soon as it exists.
        self._live = f is sys.stdout
        if fmt == "csv":
            f.write(TARGETS_CSV_HEADER if self._several else CSV_HEADER)

    def add(self, frame, boxes, scores, lost):
        """Frame number `frame` (of the source): each target's box (x, y, w, h), score and lost flag."""
        rows = [
            {"id": i, "box": [round(float(v), 2) for v in box], "score": round(float(score), 4), "lost": bool(gone)}
            for i, (box, score, gone) in enumerate(zip(boxes, scores, lost), 1)
        ]
        if self._fmt == "json":
            if self._several:
                self._frames.append({"frame": frame, "targets": rows})
            else:
                self._frames.append({"frame": frame, **{k: v for k, v in rows[0].items() if k != "id"}})
            return
        for row in rows:
            values = ",".join(f"{v:.2f}" for v in row["box"])
            score, lost, target = f"{row['score']:.4f}", int(row["lost"]), row["id"]
            if self._fmt == "csv":
                line = (
                    f"{frame},{target},{values},{score},{lost}" if self._several else f"{frame},{values},{score},{lost}"
                )
            else:
                line = f"{frame + 1},{target},{values},{score},-1,-1,-1" if self._several else values
            self._f.write(line + "\n")
        if self._live:
            self._f.flush()

    def finish(self):
        if self._fmt == "json":
            json.dump({**self._details, "frames": self._frames}, self._f, indent=1)
