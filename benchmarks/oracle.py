"""Where our tracker loses accuracy: its success AUC when, after every frame, it is told the true
size of the target (so only the position is its own), or the true centre (only the size is its
own), against a plain run.

If the true size lifts AUC a lot, box estimation is the weak part; if the true centre does, it is
keeping hold of the target. Each (sequence, mode) result is kept in --out, so an interrupted run
resumes where it stopped.

    python benchmarks/oracle.py [--data ../shared/data] [--split dev] [--workers 2] [--out runs/oracle]
"""

import argparse
import json
import os

from tracker import markdown
from tracker.benchmark import startable
from tracker.build import build_tracker
from tracker.errors import UserError, run_script
from tracker.fileio import write_json
from tracker.geometry import cxcywh_to_xywh, xywh_to_cxcywh
from tracker.interface import Tracker
from tracker.metrics import aggregate
from tracker.pool import reporting, run_jobs
from tracker.progress import Progress
from tracker.protocols import sequence_metrics
from tracker.runner import first_visible, track_sequence
from tracker.sequences import load_dataset

MODES = {"none": "plain run", "size": "true size given", "centre": "true centre given"}


class Oracle(Tracker):
    """Our tracker, corrected after each update with the ground truth's size or centre (mode
    "size" or "centre"; "none": not corrected) wherever the target is visible."""

    def __init__(self, tracker, sequence, mode):
        self.tracker, self.sequence, self.mode = tracker, sequence, mode

    @property
    def lost(self):
        return self.tracker.lost

    def init(self, frame, box):
        # track_sequence starts on the first visible frame and then updates on every later one.
        self.index = first_visible(self.sequence)
        self.tracker.init(frame, box)

    def update(self, frame):
        box, score = self.tracker.update(frame)
        self.index += 1
        truth = self.sequence.boxes[self.index]
        if self.mode == "none" or self.sequence.absent[self.index]:
            return box, score
        cx, cy, w, h = xywh_to_cxcywh(truth)
        self.tracker.correct(**({"size": (w, h)} if self.mode == "size" else {"centre": (cx, cy)}))
        return cxcywh_to_xywh([*self.tracker.center, *self.tracker.size]), score


def run_one(job, tick):
    """Run one (sequence, mode) job, telling tick(1) of each frame read, and save its metrics."""
    sequence, mode, path = job
    with build_tracker() as tracker:
        boxes, _, _ = track_sequence(Oracle(tracker, sequence, mode), reporting(sequence, tick))
    metrics = sequence_metrics(boxes, sequence.boxes, sequence.absent)
    write_json(path, {"sequence": sequence.name, "mode": mode, "metrics": metrics})
    return path


def run(data, split, out, workers):
    """{mode: aggregated metrics} over the split's sequences."""
    sequences = startable(load_dataset(data, "auto", split))
    paths = {(s.name, m): os.path.join(out, m, s.name + ".json") for s in sequences for m in MODES}
    for mode in MODES:
        os.makedirs(os.path.join(out, mode), exist_ok=True)
    jobs = [(s, m, paths[s.name, m]) for m in MODES for s in sequences if not os.path.isfile(paths[s.name, m])]
    progress = Progress("oracle", sum(len(sequence) for sequence, _, _ in jobs))
    list(run_jobs(jobs, workers, run_one, progress.update))
    progress.close()
    results = {}
    for mode in MODES:
        per_sequence = []
        for s in sequences:
            with open(paths[s.name, mode]) as f:
                per_sequence.append(json.load(f)["metrics"])
        results[mode] = aggregate(per_sequence)
    return results


def table(results):
    return markdown.table(
        ["run", "AUC", "P@20", "SR50", "SR75"],
        [[MODES[m]] + [f"{r[k]:.3f}" for k in ("auc", "precision", "sr50", "sr75")] for m, r in results.items()],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=os.path.join("..", "shared", "data"), help="dataset folder (default ../shared/data)"
    )
    parser.add_argument("--split", default="dev", help="split file or name in the dataset folder (default dev)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each (default 2)")
    parser.add_argument("--out", default=os.path.join("runs", "oracle"), help="folder for per-sequence results")
    args = parser.parse_args(argv)
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: give 1 or more")
    print(table(run(args.data, args.split, os.path.join(args.out, os.path.basename(args.split)), args.workers)))


if __name__ == "__main__":
    run_script(main)
