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
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tracker.benchmark import first_visible, run_jobs, startable, track_sequence  # noqa: E402
from tracker.errors import UserError, run_script  # noqa: E402
from tracker.fileio import write_json  # noqa: E402
from tracker.geometry import cxcywh_to_xywh, xywh_to_cxcywh  # noqa: E402
from tracker.metrics import aggregate  # noqa: E402
from tracker.progress import Progress  # noqa: E402
from tracker.protocols import sequence_metrics  # noqa: E402
from tracker.sequences import load_dataset  # noqa: E402
from tracker.siamfc import SiamFCTracker  # noqa: E402

MODES = {"none": "plain run", "size": "true size given", "centre": "true centre given"}


class Oracle:
    """Our tracker, corrected after each update with the ground truth's size or centre (mode
    "size" or "centre"; "none": not corrected) wherever the target is visible."""

    def __init__(self, tracker, sequence, mode):
        self.tracker, self.sequence, self.mode = tracker, sequence, mode

    def init(self, frame, box):
        # track_sequence starts on the first visible frame and then updates on every later one.
        self.index = first_visible(self.sequence)
        return self.tracker.init(frame, box)

    def update(self, frame):
        box, score = self.tracker.update(frame)
        self.index += 1
        truth = self.sequence.boxes[self.index]
        if self.mode == "none" or self.sequence.absent[self.index]:
            return box, score
        cx, cy, w, h = xywh_to_cxcywh(truth)
        self.tracker.correct(**({"size": (w, h)} if self.mode == "size" else {"centre": (cx, cy)}))
        return cxcywh_to_xywh([*self.tracker.center, *self.tracker.size]), score


def run_one(job):
    sequence, mode, path = job
    boxes, _, _ = track_sequence(Oracle(SiamFCTracker.from_files(), sequence, mode), sequence)
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
    progress = Progress("oracle", len(jobs), unit="runs")
    for _ in run_jobs(jobs, workers, run_one):
        progress.update()
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
    lines = ["| run | AUC | P@20 | SR50 | SR75 |", "|---|---|---|---|---|"]
    lines += [f"| {MODES[m]} | {r['auc']:.3f} | {r['precision']:.3f} | {r['sr50']:.3f} | {r['sr75']:.3f} |"
              for m, r in results.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data"), help="dataset folder (default ../shared/data)")
    parser.add_argument("--split", default="dev", help="split file or name in the dataset folder (default dev)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each (default 2)")
    parser.add_argument("--out", default=os.path.join("runs", "oracle"), help="folder for per-sequence results")
    args = parser.parse_args(argv)
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: give 1 or more")
    print(table(run(args.data, args.split, os.path.join(args.out, os.path.basename(args.split)), args.workers)))


if __name__ == "__main__":
    run_script(main)
