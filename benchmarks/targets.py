"""How fast our tracker follows several targets at once: frames per second of update() with 1, 2,
4 and 8 targets, all of a frame's search crops through the network in one batch per pass.

On each sequence, up to --frames frames from the first one where the target is visible are decoded
before any timing; target 1 is the annotated one, the others boxes of its size spread over the
frame (what they hold changes the work little: each target searches its own region). Each count
runs with the network on 1 and 2 threads. The markdown table goes to stdout, to --out, and with
--readme-block NAME into the README's block of that name.

    python benchmarks/targets.py [--sequences dev] [--frames 100] [--counts 1,2,4,8] [--out benchmarks/targets.md]
        [--readme-block targets-table]
"""

import argparse
import os
from datetime import datetime
from itertools import islice

import cv2
import numpy as np

from tracker import markdown
from tracker.benchmark import startable
from tracker.build import build_multi_tracker
from tracker.errors import run_script
from tracker.fileio import write_text
from tracker.interface import track_targets
from tracker.progress import Progress
from tracker.provenance import cpu_model
from tracker.runner import first_visible
from tracker.sequences import load_dataset

THREADS = (1, 2)


def spread(box, count, width, height):
    """`box` and count - 1 boxes of its size at other places on a grid over the frame."""
    x, y, w, h = box
    side = int(np.ceil(np.sqrt(count)))
    places = [
        ((i + 0.5) * width / side - w / 2, (j + 0.5) * height / side - h / 2) for j in range(side) for i in range(side)
    ]
    return [list(box)] + [[px, py, w, h] for px, py in places[1:count]]


def fps(tracker, frames, boxes):
    steps = track_targets(tracker, frames, boxes)
    next(steps)  # init, not timed
    return (len(frames) - 1) / sum(step.seconds for step in steps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join("..", "shared", "data"), help="dataset folder")
    ap.add_argument("--sequences", default="dev", help="split file or name in the dataset folder (default dev)")
    ap.add_argument("--frames", type=int, default=100, help="most frames timed per sequence (default 100)")
    ap.add_argument("--counts", default="1,2,4,8", help="numbers of targets (default 1,2,4,8)")
    ap.add_argument("--out", default=os.path.join("benchmarks", "targets.md"), help="markdown file to write")
    ap.add_argument("--readme-block", help="also put the table into README.md's block of this name")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    sequences = startable(load_dataset(args.data, "auto", args.sequences))
    trackers = {t: build_multi_tracker(tracking={"threads": t}) for t in THREADS}
    progress = Progress("targets", len(sequences) * len(counts) * len(THREADS), "runs")
    results = {(c, t): [] for c in counts for t in THREADS}
    for seq in sequences:
        start = first_visible(seq)
        frames = list(islice(seq.frames(), start, start + args.frames))
        height, width = frames[0].shape[:2]
        for count in counts:
            boxes = spread(seq.boxes[start], count, width, height)
            for threads, tracker in trackers.items():  # turns, so that a busy machine slows all alike
                results[count, threads].append(fps(tracker, frames, boxes))
                progress.update()
    progress.close()
    one = {t: np.median(results[counts[0], t]) for t in THREADS}
    rows = [
        [str(c)]
        + [f"{np.median(results[c, t]):.1f}" for t in THREADS]
        + [f"{np.median(results[c, t]) / one[t]:.2f}" for t in THREADS]
        for c in counts
    ]
    head = ["targets"] + [f"fps, {t} thread{'s' * (t > 1)}" for t in THREADS]
    head += [f"of {counts[0]} target's fps, {t} thread{'s' * (t > 1)}" for t in THREADS]
    table = markdown.table(head, rows)
    text = (
        f"# Several targets\n\n{datetime.now():%Y-%m-%d %H:%M}, {cpu_model()} ({os.cpu_count()} logical CPUs), "
        f"OpenCV {cv2.__version__}. Median over {len(sequences)} `{args.sequences}` sequences of the fps of "
        f"update() (all targets), up to {args.frames} frames each, default config:\n\n" + table + "\n"
    )
    print(text)
    write_text(args.out, text)
    if args.readme_block:
        markdown.fill_file("README.md", args.readme_block, table)


if __name__ == "__main__":
    run_script(main)
