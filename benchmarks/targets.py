"""How fast our tracker follows several targets at once: frames per second of update() with 1, 2,
4 and 8 targets, all of a frame's search crops through the network in one batch per pass.

On each sequence, up to --frames frames from the first one where the target is visible are decoded
before any timing; every target starts from the annotated box, so that each does the work of a
target that is followed. (A target judged lost does more: boxes of background spread over the frame
are soon lost, and each then searches a re-detection tile every frame as well.) Each count
runs with the network on 1 and 2 threads. The table also gives a frame's time and the network's
share of it (the batched search passes), the part that only more cores or a lighter network cut.
The markdown table goes to stdout, to --out, and with --readme-block NAME into the README's block
of that name.

    python benchmarks/targets.py [--sequences dev] [--frames 100] [--counts 1,2,4,8] [--out benchmarks/targets.md]
        [--readme-block targets-table]
"""

import argparse
import os
import time
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


class NetworkClock:
    """A tracker's engine that adds up the time of its search passes (score_maps)."""

    def __init__(self, engine):
        self.engine, self.seconds = engine, 0.0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def score_maps(self, crops, kernels):
        start = time.perf_counter()
        try:
            return self.engine.score_maps(crops, kernels)
        finally:
            self.seconds += time.perf_counter() - start


def timed(tracker, frames, boxes):
    """(fps of update(), ms a frame of the network's search passes) on `frames` from `boxes`."""
    steps = track_targets(tracker, frames, boxes)
    next(steps)  # init, not timed
    tracker.engine.seconds = 0.0
    seconds = sum(step.seconds for step in steps)
    return (len(frames) - 1) / seconds, 1000 * tracker.engine.seconds / (len(frames) - 1)


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
    for tracker in trackers.values():
        tracker.engine = NetworkClock(tracker.engine)
    progress = Progress("targets", len(sequences) * len(counts) * len(THREADS), "runs")
    results = {(c, t): [] for c in counts for t in THREADS}
    for seq in sequences:
        start = first_visible(seq)
        frames = list(islice(seq.frames(), start, start + args.frames))
        for count in counts:
            boxes = [seq.boxes[start]] * count
            for threads, tracker in trackers.items():  # turns, so that a busy machine slows all alike
                results[count, threads].append(timed(tracker, frames, boxes))
                progress.update()
    progress.close()
    fps = {key: np.median([f for f, _ in runs]) for key, runs in results.items()}
    network = {key: np.median([ms for _, ms in runs]) for key, runs in results.items()}
    rows = [
        [str(c)]
        + [f"{fps[c, t]:.1f}" for t in THREADS]
        + [f"{fps[c, t] / fps[counts[0], t]:.2f}" for t in THREADS]
        + [f"{1000 / fps[c, t]:.1f} / {network[c, t]:.1f}" for t in THREADS]
        for c in counts
    ]
    plural = {t: f"{t} thread{'s' * (t > 1)}" for t in THREADS}
    head = ["targets"] + [f"fps, {plural[t]}" for t in THREADS]
    head += [f"of {counts[0]} target's fps, {plural[t]}" for t in THREADS]
    head += [f"ms a frame / of it the network, {plural[t]}" for t in THREADS]
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
