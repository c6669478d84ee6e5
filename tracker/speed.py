"""How fast our tracker runs beside OpenCV's on this machine: frames per second of update() alone.

Up to --frames frames of each sequence, from the first one where the target is visible, are decoded
before any timing; on each sequence the trackers take turns, so a busy machine slows them alike.
Our default tracker also gets a per-frame breakdown into update()'s three steps, the network's FLOPs
per frame, and this machine's fp32 matrix-multiply rate, the ceiling those FLOPs could run at.
The markdown table goes to stdout and to --out.

    python run_tracker.py speed [--sequences dev] [--frames 150] [--threads 1,2] [--out speed.md]

(benchmarks/speed.md, which the README quotes, is this with `--threads 1,2 --out benchmarks/speed.md`.)
torch is imported only when measuring, not when the command line is built.
"""

import argparse
import collections
import importlib.metadata
import json
import math
import os
import sys
import tempfile
import time
from datetime import datetime
from itertools import islice

import cv2
import numpy as np

from . import markdown
from .benchmark import startable
from .build import build_tracker
from .config import CONFIG_DIR
from .engine import OnnxEngine, onnx_session, search_graphs
from .errors import UserError
from .fileio import write_text
from .interface import track
from .params import load_params
from .peers import DEFAULT_PEER_MODELS, PeerUnavailable, quiet_opencv
from .progress import Progress
from .provenance import cpu_model
from .runner import first_visible
from .sequences import load_dataset
from .siamfc import SiamFCTracker
from .specs import make_tracker

ACCURATE_CONFIG = os.path.join(CONFIG_DIR, "siamfc_alexnet.yaml")
FAST_CONFIG = os.path.join(CONFIG_DIR, "siamfc_fast.yaml")
LIGHT_CONFIG = os.path.join(CONFIG_DIR, "siamfc_light.yaml")
MOBILENET_CONFIG = os.path.join(CONFIG_DIR, "siamfc_mobilenet.yaml")
STEPS = {
    "search_crops": "search crops (shrink, warp every scale)",
    "score_maps": "network (every scale) and correlation",
    "rest": "the rest (colour model, upsample, window, move, rescale)",
}


class Entry:
    """One column of the table: a tracker and how many sequences it gets (None: all)."""

    def __init__(self, label, tracker, limit=None):
        self.label, self.tracker, self.limit = label, tracker, limit
        self.fps = {}  # sequence name -> fps
        self.cores = {}  # sequence name -> CPU-seconds per second of update()

    def runs_on(self, i):
        return self.limit is None or i < self.limit

    def start(self):
        claim_threads(self.tracker)


def claim_threads(tracker):
    """torch's thread count is process-wide: set it to the tracker's where torch runs its network."""
    from .torch_engine import TorchEngine

    if isinstance(getattr(tracker, "engine", None), TorchEngine):
        tracker.engine.claim_threads()


class StepTimed(SiamFCTracker):
    """Our tracker timing update()'s steps: `times` holds each step's seconds per frame since
    init(), `batches` what the last update() sent through the network (a batch per pass). The
    crops and the network are timed wherever update() calls them (once, or twice with two
    passes); the rest is the remainder."""

    def init(self, frame, box):
        self.times = {step: [0.0] for step in STEPS}  # for init()'s own crops, dropped below
        super().init(frame, box)
        self.times = {step: [] for step in STEPS}

    def update(self, frame):
        self.batches = []
        for step in STEPS:
            self.times[step].append(0.0)
        tic = time.perf_counter()
        result = super().update(frame)
        total = time.perf_counter() - tic
        self.times["rest"][-1] = total - self.times["search_crops"][-1] - self.times["score_maps"][-1]
        return result

    def search_crops(self, *args):
        return self._timed("search_crops", super().search_crops, *args)

    def score_maps(self, crops):
        self.batches.append(crops)  # a view of a crop buffer, which keeps it until the next update
        return self._timed("score_maps", super().score_maps, crops)

    def _timed(self, step, method, *args):
        tic = time.perf_counter()
        result = method(*args)
        self.times[step][-1] += time.perf_counter() - tic
        return result


def matmul_gflops(threads, n=2048, repeats=5):
    """fp32 torch.mm rate on `threads` threads (0: one per core), best of `repeats`: what the CPU can
    do at most."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count())
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    torch.set_num_threads(before)
    return 2 * n**3 / best / 1e9


def _seconds(fn):
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def network_inputs(tracker, frame, box):
    """The crops that one update() after init sends through the network (a batch per pass), of a
    StepTimed tracker."""
    tracker.init(frame, box)
    tracker.update(frame)
    return [batch.copy() for batch in tracker.batches]


def network_gflop(tracker, crops):
    """GFLOP of the network and the correlation on `crops` (the search graphs' work), multiply and add
    counted apart, as torch counts them."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from . import weights as weights_io
    from .torch_engine import tracking_modules

    params = load_params()
    net, _ = weights_io.load(params["weights"], params["model"])
    exemplar, search, _ = tracking_modules(net, tracker.p)
    z = tracker.p["exemplar_size"]
    with torch.no_grad():
        kernel = exemplar(torch.zeros(1, z, z, 3, dtype=torch.uint8))
        with FlopCounterMode(display=False) as counter:
            for batch in crops:
                search(torch.from_numpy(batch), *kernel)
    return counter.get_total_flops() / 1e9


def conv_kind(weight_shape, groups):
    if groups > 1:
        return "depthwise conv"
    return "pointwise (1x1) conv" if tuple(weight_shape[2:]) == (1, 1) else "dense conv"


def layer_times(tracker, crops, repeats=30):
    """Per kind of node of the search graphs: (ms per frame, GFLOP per frame) on `crops`, as ONNX
    Runtime's profiler times each node over `repeats` runs (averaged): where the network's time
    goes. Empty for a tracker on the torch engine."""
    kinds = collections.defaultdict(lambda: [0.0, 0.0])
    if not isinstance(tracker.engine, OnnxEngine):
        return {}
    names = {size: name for name, size in search_graphs(tracker.p).items()}
    events = []
    with tempfile.TemporaryDirectory() as folder:
        for batch in crops:
            session = onnx_session(
                tracker.engine.graphs[names[batch.shape[1]]],
                tracker.p["threads"],
                enable_profiling=True,
                profile_file_prefix=os.path.join(folder, "profile"),
            )
            for _ in range(repeats):
                session.run(None, OnnxEngine.inputs(batch, [tracker.kernel] * len(batch)))
            with open(session.end_profiling()) as f:
                events += json.load(f)
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        op, shapes = event["args"]["op_name"], event["args"]["input_type_shape"]
        kind = "other nodes (cast, shapes, layout)"
        if op in ("Conv", "FusedConv"):
            x, w, y = (next(iter(d.values())) for d in shapes[:2] + event["args"]["output_type_shape"])
            groups = x[1] // w[1]
            kind = conv_kind(w, groups)
            kinds[kind][1] += 2 * math.prod(y) * math.prod(w[1:]) / 1e9 / repeats
        elif op == "MatMul":
            kind = "correlation's matrix product"
            a, b = (next(iter(d.values())) for d in shapes[:2])
            kinds[kind][1] += 2 * math.prod(a) * b[-1] / 1e9 / repeats
        kinds[kind][0] += event["dur"] / 1000 / repeats
    return {k: tuple(v) for k, v in kinds.items() if v[0] > 0.005}


def timed_run(tracker, frames, box, progress):
    """fps of update() alone over frames[1:], after init on frames[0], and the CPU-seconds the
    process spent per second of it: the cores the tracker kept busy."""
    steps = track(tracker, frames, box)
    next(steps)  # init, not timed
    total = cpu = 0.0
    for _ in frames[1:]:
        cpu -= time.process_time()
        step = next(steps)
        cpu += time.process_time()
        total += step.seconds
        progress.update()
    return (len(frames) - 1) / total, cpu / total


def make_entries(args):
    """The table's columns, the ones of them that are our default tracker with a StepTimed twin
    each, and why any tracker is skipped."""
    ours, timed = [], []
    for t in args.threads or [None]:
        tracking = {"threads": t} if t else None
        ours.append(Entry(f"siamfc {t}t" if t else "siamfc", build_tracker(tracking=tracking)))
        timed.append(build_tracker(tracking=tracking, cls=StepTimed))
    # The default with the search branch on torch instead of ONNX Runtime: the same boxes.
    entries = ours + [
        Entry("siamfc-torch", make_tracker("siamfc", tracking={"engine": "torch"})),
        Entry("siamfc-mobilenet", make_tracker("siamfc", config=MOBILENET_CONFIG)),
        Entry("siamfc-light", make_tracker("siamfc", config=LIGHT_CONFIG)),
        Entry("siamfc-fast", make_tracker("siamfc", config=FAST_CONFIG)),
    ]
    if args.accurate:
        entries.append(Entry("siamfc-alexnet", make_tracker("siamfc", config=ACCURATE_CONFIG), args.accurate))
    skipped = []
    for name in args.peers.split(",") if args.peers else []:
        try:
            entries.append(Entry(name, make_tracker(name, peer_models=args.peer_models)))
        except PeerUnavailable as e:
            skipped.append(f"{name}: {e}")
            print(f"speed: skipping {name}: {e}", file=sys.stderr)
    return entries, dict(zip(ours, timed)), skipped


def measure(args):
    """Time every tracker on every sequence, and our tracker's steps; fills the entries' fps."""
    quiet_opencv()
    sequences = startable(load_dataset(args.data, "auto", args.sequences))
    entries, ours, skipped = make_entries(args)
    lengths = [min(len(s) - first_visible(s), args.frames) for s in sequences]
    progress = Progress("speed", sum((n - 1) * sum(e.runs_on(i) for e in entries) for i, n in enumerate(lengths)))
    steps = {e.label: {step: [] for step in STEPS} for e in ours}
    sizes = {}
    for i, (seq, n) in enumerate(zip(sequences, lengths)):
        start = first_visible(seq)
        frames = list(islice(seq.frames(), start, start + n))
        sizes[seq.name] = (frames[0].shape[1], frames[0].shape[0], len(frames))
        for entry in entries:
            if entry.runs_on(i):
                entry.start()
                entry.fps[seq.name], entry.cores[seq.name] = timed_run(
                    entry.tracker, frames, seq.boxes[start], progress
                )
        # After the timed runs, so that the breakdown cannot slow them.
        for entry, timed in ours.items():
            for _ in track(timed, frames, seq.boxes[start]):
                pass
            for step, seconds in timed.times.items():
                steps[entry.label][step] += seconds
    progress.close()
    machine = {}
    # On the last sequence's first frame, still at hand from the loop above.
    for entry, timed in ours.items():
        claim_threads(timed)
        gflop = network_gflop(timed, network_inputs(timed, frames[0], seq.boxes[start]))
        threads = timed.p["threads"]
        machine[entry.label] = (threads, gflop, matmul_gflops(threads))
    first = next(iter(ours.values()))
    claim_threads(first)
    layers = layer_times(first, network_inputs(first, frames[0], seq.boxes[start]))
    return entries, skipped, sizes, steps, machine, layers


def fps_table(entries, sizes):
    head = ["sequence", "size", "frames"] + [e.label for e in entries]
    rows = [
        [name, f"{w}x{h}", str(n)] + [f"{e.fps[name]:.1f}" if name in e.fps else "" for e in entries]
        for name, (w, h, n) in sizes.items()
    ]
    for label, stat in (("median", np.median), ("min", np.min)):
        rows.append([f"**{label}**", "", ""] + [f"**{stat(list(e.fps.values())):.1f}**" for e in entries])
    rows.append(
        ["cores used (median CPU-s per s)", "", ""] + [f"{np.median(list(e.cores.values())):.2f}" for e in entries]
    )
    return markdown.table(head, rows)


def peer_ratios(entries, peers=("nano", "vit")):
    """Our first column's median fps over each learned peer's, as the speed goal compares them."""
    median = {e.label: np.median(list(e.fps.values())) for e in entries if e.fps}
    ours = entries[0].label
    return " ".join(
        f"Median fps of {ours} over {peer}'s: **{median[ours] / median[peer]:.2f}**."
        for peer in peers
        if peer in median
    )


def steps_table(steps, machine):
    columns = []
    for label, times in steps.items():
        ms = {step: 1000 * np.median(t) for step, t in times.items()}
        threads, gflop, peak = machine[label]
        achieved = gflop / ms["score_maps"] * 1000
        columns.append(
            [f"{ms[step]:.2f}" for step in STEPS]
            + [
                f"**{sum(ms.values()):.2f}**",
                str(threads),
                f"{gflop:.3f}",
                f"{achieved:.1f}",
                f"{peak:.1f}",
                f"{achieved / peak:.0%}",
            ]
        )
    names = list(STEPS.values()) + [
        "**sum of the steps**",
        "network threads",
        "network GFLOP per frame",
        "network GFLOP/s achieved",
        "torch.mm 2048x2048 fp32 GFLOP/s",
        "achieved / torch.mm",
    ]
    rows = [[name] + [column[k] for column in columns] for k, name in enumerate(names)]
    return markdown.table(["per frame, median ms"] + list(steps), rows)


def layers_table(layers, peak):
    rows = [
        [
            kind,
            f"{ms:.2f}",
            f"{gflop:.3f}",
            f"{gflop / ms * 1000:.1f}" if gflop else "-",
            f"{gflop / ms * 1000 / peak:.0%}" if gflop else "-",
        ]
        for kind, (ms, gflop) in layers.items()
    ]
    total_ms, total_gflop = (sum(v[k] for v in layers.values()) for k in (0, 1))
    rows.append(
        [
            "**all**",
            f"**{total_ms:.2f}**",
            f"**{total_gflop:.3f}**",
            f"**{total_gflop / total_ms * 1000:.1f}**",
            f"**{total_gflop / total_ms * 1000 / peak:.0%}**",
        ]
    )
    return markdown.table(
        ["layers of the search branch", "ms per frame", "GFLOP per frame", "GFLOP/s", "of torch.mm's"], rows
    )


def report(args, entries, skipped, sizes, steps, machine, layers):
    notes = [
        f"{datetime.now():%Y-%m-%d %H:%M}, {cpu_model()} ({os.cpu_count()} logical CPUs), "
        f"torch {importlib.metadata.version('torch')}, OpenCV {cv2.__version__}.",
        f"fps of update() alone, over up to {args.frames} frames of each sequence decoded beforehand; "
        "the trackers took turns on each sequence.",
    ]
    notes += [f"{e.label} ran on the first {e.limit} sequences only." for e in entries if e.limit]
    notes += [f"Skipped {line}" for line in skipped]
    ratios = peer_ratios(entries)
    return (
        "\n\n".join(
            [
                "# Tracking speed",
                " ".join(notes[:2]),
                *notes[2:],
                fps_table(entries, sizes),
                *([ratios] if ratios else []),
                "## Our tracker, step by step",
                steps_table(steps, machine),
                "## Where the network's time goes",
                "The search graphs' nodes as ONNX Runtime's profiler times them, on the crops of one update() "
                "on the last sequence (the correlation's shift-and-add is the dense 5x5 conv).",
                layers_table(layers, next(iter(machine.values()))[2]),
            ]
        )
        + "\n"
    )


def thread_counts(text):
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give thread counts of 1 or more separated by commas, e.g. 1,2")
    return counts


def add_arguments(parser):
    parser.add_argument(
        "--data", default=os.path.join("..", "shared", "data"), help="dataset folder (default ../shared/data)"
    )
    parser.add_argument("--sequences", default="dev", help="split file or name in the dataset folder (default dev)")
    parser.add_argument("--frames", type=int, default=150, help="most frames timed per sequence (default 150)")
    parser.add_argument(
        "--threads",
        type=thread_counts,
        help="thread counts to run our tracker with, e.g. 1,2 (default: as its config says)",
    )
    parser.add_argument(
        "--accurate",
        type=int,
        default=2,
        help="sequences to run the accurate alexnet config on, it runs at a few fps (default 2)",
    )
    parser.add_argument("--peers", default="csrt,nano,vit", help="OpenCV trackers to time (default csrt,nano,vit)")
    parser.add_argument("--peer-models", default=DEFAULT_PEER_MODELS, help="folder of the Nano and Vit model files")
    parser.add_argument("--out", default="speed.md", help="markdown file to write (default speed.md)")


def main(args):
    """The `speed` command: time every tracker, write and print the tables."""
    if args.frames < 2:
        raise UserError(f"--frames {args.frames}: give at least 2, the first one only starts the tracker")
    text = report(args, *measure(args))
    write_text(args.out, text)
    print(text, end="")
