"""How far our tracker's `lost` flag can be trusted: from benchmark runs' boxes and scores, the
precision and recall of "score under tracking.lost_threshold" for the frames where the box is off
the target (IoU 0, or the target out of view), against the frames where it is on it (IoU > 0.3).

    python benchmarks/lost_signal.py --dataset ../shared/data \\
        --run dev=benchmark_out/dev --run longterm=benchmark_out/longterm [--tracker siamfc] [--out FILE]

Each --run is SPLIT=FOLDER: the split file's name in --dataset (without .txt) and the benchmark's
--out folder. The markdown table goes to stdout, to --out, and with --readme-block NAME into the
README between its `<!-- NAME:start -->` and `<!-- NAME:end -->` lines.
"""

import argparse
import os

import numpy as np

from tracker import markdown
from tracker.errors import UserError, run_script
from tracker.fileio import write_text
from tracker.metrics import lost_precision_recall
from tracker.params import load_params
from tracker.protocols import longterm_frames
from tracker.records import done_setup, load_boxes, load_record
from tracker.sequences import load_dataset


def frames_of(out, tracker, seq):
    """The frames of a benchmark run of `seq` after the init: their overlaps with the ground truth,
    the tracker's scores, and whether the target is visible."""
    if done_setup(out, "ope", tracker, seq) is None:
        raise UserError(f"no finished run of {tracker} on {seq.name} in {out}; run the benchmark there first")
    scores = np.asarray(load_record(out, "ope", tracker, seq)["scores"], float)  # null: NaN
    return longterm_frames(load_boxes(out, "ope", tracker, seq), seq.boxes, seq.absent, scores)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, help="dataset folder holding the split files")
    ap.add_argument("--run", action="append", required=True, help="SPLIT=FOLDER, repeatable")
    ap.add_argument("--tracker", default="siamfc", help="the tracker spec as the benchmark ran it (default siamfc)")
    ap.add_argument("--config", help="its config, for tracking.lost_threshold (default: the shipped one)")
    ap.add_argument("--out", help="also write the table here")
    ap.add_argument("--readme-block", help="also put the table into README.md's block of this name")
    args = ap.parse_args(argv)
    threshold = load_params(args.config)["tracking"]["lost_threshold"]
    rows = []
    for run in args.run:
        split, sep, folder = run.partition("=")
        if not sep:
            raise UserError(f"--run {run!r} must be SPLIT=FOLDER, e.g. dev=benchmark_out/dev")
        sequences = load_dataset(args.dataset, "auto", os.path.join(args.dataset, split + ".txt"))
        frames = [frames_of(folder, args.tracker, seq) for seq in sequences]
        overlaps, scores, visible = (np.concatenate(parts) for parts in zip(*frames))
        figures = lost_precision_recall(scores < threshold, overlaps, visible)
        off = int(np.sum(~visible | (overlaps <= 0)))
        rows.append([split, str(len(scores)), str(off), f"{figures['precision']:.3f}", f"{figures['recall']:.3f}"])
    table = markdown.table(["split", "frames", "off the target", "precision", "recall"], rows)
    text = (
        f"`lost` (score < {threshold}) of `{args.tracker}` against the frames its box is off the target:\n\n{table}\n"
    )
    print(text, end="")
    if args.out:
        write_text(args.out, text)
    if args.readme_block:
        markdown.fill_file("README.md", args.readme_block, table)


if __name__ == "__main__":
    run_script(main)
