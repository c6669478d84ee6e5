"""Tune SiamFC's tracking parameters by coordinate descent on a fixed subset of a split (train, never dev).

The subset is the first --frames frames (from the first one where the target is visible) of each
sequence in --split, decoded once and held in memory; a trial tracks every clip one-pass with one
configuration and scores the mean AUC over the clips. Each trial is kept in <out>/trials.jsonl, so a
rerun (or a killed one) skips what is done. The best configuration is printed as YAML and written to
<out>/best.yaml; how much each parameter moved the AUC around the best goes to stderr.

    python run_tracker.py tune --config siamfc --split ../shared/data/train.txt
"""

import json
import multiprocessing
import os
import sys
from dataclasses import dataclass
from itertools import islice

import numpy as np
import yaml

from .benchmark import startable
from .build import tracker_from_net
from .config import resolve_weights
from .errors import UserError
from .fileio import write_json, write_text
from .metrics import aggregate
from .params import load_params
from .pool import limit_threads
from .progress import Progress
from .protocols import sequence_metrics
from .provenance import file_sha256
from .runner import first_visible, track_sequence
from .sequences import Sequence, load_dataset

# The values tried for each parameter besides the current one: coarse, as a trial takes a minute or
# more on a CPU. Instance sizes keep (instance - exemplar) a multiple of the network's stride 8, so the
# response map stays centred.
GRID = {
    "window_influence": (0.1, 0.3, 0.45),
    "scale_lr": (0.3, 0.8),
    "scale_penalty": (0.94, 0.99),
    "scale_step": (1.02, 1.06),
    "instance_size": (287, 303),
    "context": (0.4, 0.6),
    "colour_weight": (0.0, 0.2, 0.6),
}
# Tracking values that change neither a box nor an AUC, so a trial holds whatever they are. (Not
# lost_threshold: a lost target re-detects, and the colour model learns only while it is found.)
NO_EFFECT = ("threads",)


def swept(tracking):
    """The GRID parameters that can change a box under these tracking values: the scale search's
    only with several scales."""
    idle = {"scale_lr", "scale_penalty", "scale_step"} if tracking["scale_num"] == 1 else set()
    return {name: values for name, values in GRID.items() if name not in idle}


@dataclass
class Clip(Sequence):
    """A sequence cut short and held in memory, so every trial replays it without decoding."""

    stack: np.ndarray = None

    def frames(self):
        return iter(self.stack)


def load_clips(sequences, frames):
    """The first `frames` frames of each sequence from its first visible one, decoded."""
    progress = Progress("tune: decoding", sum(min(len(s) - first_visible(s), frames) for s in sequences))
    clips = []
    for seq in sequences:
        part = slice(first_visible(seq), first_visible(seq) + frames)
        stack = np.stack(list(islice(seq.frames(), part.start, part.stop)))
        clips.append(
            Clip(
                seq.name,
                seq.boxes[part],
                seq.source,
                {k: np.asarray(v)[part] for k, v in seq.attributes.items()},
                stack,
            )
        )
        progress.update(len(stack))
    progress.close()
    return clips


# The network and the decoded clips of this process: set by start(), in the main process and in
# each worker the pool forks, so that the workers share the frames instead of copying them.
_net, _clips = None, []


def start(net, clips):
    global _net, _clips
    _net, _clips = net, clips


def start_worker(net, clips):
    start(net, clips)
    limit_threads()


def score_clip(job):
    params, i = job
    clip = _clips[i]
    boxes, _, _ = track_sequence(tracker_for(params), clip)
    return i, sequence_metrics(boxes, clip.boxes, clip.absent)


_tracker = {}


def tracker_for(params):
    """The last trial's tracker while its parameters last: making one exports its network to ONNX
    Runtime (~0.2 s), and init() starts it afresh on every clip."""
    if key(params["tracking"]) not in _tracker:
        for tracker in _tracker.values():
            tracker.close()
        _tracker.clear()
        _tracker[key(params["tracking"])] = tracker_from_net(_net, params)
    return _tracker[key(params["tracking"])]


class Trials:
    """Every configuration tried on this subset, with its score; kept in <out>/trials.jsonl."""

    def __init__(self, out, config, pool, budget):
        self.path = os.path.join(out, "trials.jsonl")
        self.config, self.pool, self.budget = config, pool, budget
        self.records = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                for line in f:
                    record = json.loads(line)
                    self.records[key(record["tracking"])] = record
        self.visited = set()
        frames = sum(len(c) for c in _clips)
        self.progress = Progress("tune", max(budget - len(self.records), 1) * frames)

    def exhausted(self, tracking):
        return len(self.visited) >= self.budget and key(tracking) not in self.visited

    def record(self, tracking):
        """The trial of this configuration, run now unless it is kept from before (maybe with other
        NO_EFFECT values: the trial comes back with the ones asked for)."""
        self.visited.add(key(tracking))
        if key(tracking) not in self.records:
            self.records[key(tracking)] = self.run(tracking)
            write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records.values()))
        return {**self.records[key(tracking)], "tracking": tracking}

    def run(self, tracking):
        params = {**self.config, "tracking": tracking}
        jobs = [(params, i) for i in sorted(range(len(_clips)), key=lambda i: -len(_clips[i]))]
        metrics = [None] * len(_clips)
        top = max((r["auc"] for r in self.records.values()), default=float("nan"))
        note = f", trial {len(self.visited)}/{self.budget}, top AUC {top:.4f}"
        for i, m in self.pool.imap_unordered(score_clip, jobs) if self.pool else map(score_clip, jobs):
            metrics[i] = m
            self.progress.update(len(_clips[i]), note)
        overall = aggregate(metrics)
        return {
            "tracking": tracking,
            "auc": overall["auc"],
            "precision": overall["precision"],
            "sequences": {c.name: m["auc"] for c, m in zip(_clips, metrics)},
        }


def key(tracking):
    """What identifies a trial: the tracking values that can change a box."""
    return json.dumps({k: v for k, v in tracking.items() if k not in NO_EFFECT}, sort_keys=True)


def paired_gain(new, old):
    """Mean per-sequence AUC gain of trial `new` over trial `old`, and its standard error."""
    d = np.array([new["sequences"][n] - old["sequences"][n] for n in old["sequences"]])
    d = d[~np.isnan(d)]
    return d.mean(), (d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0)


def coordinate_descent(start, trials, grid):
    """Sweep one parameter at a time over `grid` (of GRID), until a whole pass changes nothing or the trial budget
    is spent; the best trial.

    A value replaces the current one only if its gain is more than one standard error over the
    sequences: smaller gains are as likely noise of the subset, and chasing them overfits it.
    """
    best = trials.record(start)
    moved = True
    while moved:
        moved = False
        for name, values in grid.items():
            for value in values:
                candidate = {**best["tracking"], name: value}
                if trials.exhausted(candidate):
                    return best
                gain, error = paired_gain(trials.record(candidate), best)
                if gain > error:
                    best, moved = trials.record(candidate), True
    return best


def sensitivity(records, best, grid):
    """Per parameter: the AUC of each value tried with every other parameter at its best value."""
    lines = []
    for name in grid:
        rows = sorted(
            (r["tracking"][name], r["auc"]) for r in records if key({**r["tracking"], name: best[name]}) == key(best)
        )
        spread = max(a for _, a in rows) - min(a for _, a in rows)
        values = "  ".join(f"{v:g}:{a:.4f}{'*' if v == best[name] else ''}" for v, a in rows)
        lines.append(f"{name:17s} spread {spread:.4f}  {values}" if len(rows) > 1 else f"{name:17s} not swept")
    return lines


def check_setup(out, setup):
    """Trials made on another subset, network or weights file cannot be reused: refuse to mix them."""
    path = os.path.join(out, "setup.json")
    if os.path.exists(path):
        with open(path) as f:
            if json.load(f) != setup:
                raise UserError(
                    f"{out} holds trials of another subset, model or weights file (see {path}); give a fresh --out"
                )
    write_json(path, setup)


def add_arguments(parser):
    parser.add_argument("--config", help="SiamFC config whose tracking values are the starting point (file or name)")
    parser.add_argument("--split", required=True, help="text file of sequence names (use train, never dev)")
    parser.add_argument("--dataset", help="dataset folder (default: the split file's folder)")
    parser.add_argument("--frames", type=int, default=100, help="frames per sequence (default 100)")
    parser.add_argument("--trials", type=int, default=30, help="most configurations to score (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--out", default="runs/tune", help="output folder (default runs/tune)")


def main(args):
    """The `tune` command: coordinate descent from the config's tracking values (module docstring)."""
    if min(args.frames, args.trials, args.workers) < 1:
        raise UserError("--frames, --trials and --workers must be at least 1")

    params = load_params(args.config)
    config = {k: v for k, v in params.items() if k != "tracking"}
    dataset = args.dataset or os.path.dirname(os.path.abspath(args.split))
    sequences = startable(load_dataset(dataset, "auto", args.split))
    from . import weights as weights_io  # torch: imported when tuning, not when the command line is built

    net, _ = weights_io.load(params["weights"], params["model"])  # a missing or damaged file: one line
    check_setup(
        args.out,
        {
            "sequences": [s.name for s in sequences],
            "frames": args.frames,
            "model": params["model"],
            "weights": file_sha256(resolve_weights(params["weights"])),
        },
    )
    clips = load_clips(sequences, args.frames)
    start(net, clips)
    # fork: the workers get the clips from start()'s arguments without a copy being pickled over.
    pool = (
        multiprocessing.get_context("fork").Pool(args.workers, start_worker, (net, clips)) if args.workers > 1 else None
    )
    try:
        trials = Trials(args.out, config, pool, args.trials)
        grid = swept(params["tracking"])
        best = coordinate_descent(params["tracking"], trials, grid)
    finally:
        if pool:
            pool.terminate()
    trials.progress.close()

    baseline = trials.records[key(params["tracking"])]["auc"]
    frames = sum(len(c) for c in _clips)
    print(
        f"tune: baseline AUC {baseline:.4f}, best {best['auc']:.4f} ({len(trials.visited)} trials on "
        f"{len(_clips)} sequences, {frames} frames)",
        file=sys.stderr,
    )
    print("\n".join(sensitivity(trials.records.values(), best["tracking"], grid)), file=sys.stderr)
    text = (
        f"# tuned on {os.path.basename(args.split)}: mean AUC {best['auc']:.4f} (start {baseline:.4f}) over "
        f"the first {args.frames} frames of {len(_clips)} sequences\n"
        + yaml.safe_dump({**config, "tracking": best["tracking"]}, sort_keys=False)
    )
    write_text(os.path.join(args.out, "best.yaml"), text)
    print(text, end="")
