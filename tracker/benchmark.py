"""Run trackers over a dataset, keep every (tracker, sequence) result on disk, and score them.

Each pair's result is saved as it completes, so a rerun (or a killed run) only does what is missing.
One-pass (OTB) results go to <out>/<tracker>/<seq>.txt|json, the supervised (VOT) ones to
<out>/vot/<tracker>/<seq>.txt|json; results.json, status.json, vot.json and the report sum them up.
"""

import argparse
import dataclasses
import functools
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import queue
import sys

import cv2
import numpy as np

from .errors import UserError
from .fileio import remove_temporaries, writable_folder, write_json, write_text
from .interface import track
from .metrics import METRICS, eao, iou, longterm_figures, vot_accuracy_robustness
from .peers import (
    TRACKERS,
    PeerUnavailable,
    folder_name,
    make_tracker,
    parse_spec,
    quiet_opencv,
    setup_id,
    spec_options,
)
from .progress import Progress
from .protocols import LAYOUT_PROTOCOL, PROTOCOLS, evaluate, leaves_view, longterm_frames
from .provenance import provenance
from .report import format_table, status_lines, write_report
from .sequences import LAYOUTS, detect_format, load_dataset

CURVES = ("success_curve", "precision_curve", "norm_precision_curve")
VOT_SKIP = 5  # frames between a failure and the re-initialisation (VOT)
VOT_BURNIN = 10  # frames after each (re-)initialisation left out of accuracy (VOT)


def first_visible(sequence):
    return int(np.flatnonzero(~sequence.absent)[0])


def frame_size(sequence):
    """(width, height) of the sequence's first frame."""
    height, width = next(iter(sequence.frames())).shape[:2]
    return width, height


def track_sequence(tracker, sequence):
    """One-pass run: init on the first frame with a ground-truth box, update on every later frame.

    Returns boxes (N, 4; NaN before the init), scores and seconds spent in update() (N; NaN where
    update did not run).
    """
    n, start = len(sequence), first_visible(sequence)
    boxes, scores, times = np.full((n, 4), np.nan), np.full(n, np.nan), np.full(n, np.nan)
    frames = itertools.islice(sequence.frames(), start, None)
    for i, step in enumerate(track(tracker, frames, sequence.boxes[start]), start):
        boxes[i] = step.box
        if i > start:
            scores[i], times[i] = step.score, step.seconds
    return boxes, scores, times


def track_supervised(tracker, sequence, skip=VOT_SKIP):
    """VOT-style run: when the overlap drops to 0, re-initialise on the ground truth `skip` frames later.

    Returns boxes (N, 4; NaN while not tracking), the frames of each (re-)initialisation and of each failure.
    """
    gt, absent = sequence.boxes, sequence.absent
    boxes = np.full((len(sequence), 4), np.nan)
    inits, failures = [], []
    resume = 0  # earliest frame for the next initialisation; None while tracking
    for i, frame in enumerate(sequence.frames()):
        if resume is not None:
            # The tracker can only be (re-)started on a frame where the target is visible.
            if i >= resume and not absent[i]:
                tracker.init(frame, gt[i])
                boxes[i], resume = gt[i], None
                inits.append(i)
            continue
        boxes[i], _ = tracker.update(frame)
        if not absent[i] and iou(boxes[i], gt[i])[0] == 0:
            failures.append(i)
            resume = i + skip
    return boxes, inits, failures


def supervised_overlaps(boxes, gt, absent, inits, failures, burnin=VOT_BURNIN):
    """Per-frame IoU for accuracy (NaN where it does not count) and the EAO fragments of a supervised run.

    A fragment is the IoUs of the visible frames after an initialisation up to its failure (excluded)
    or the end, with whether it ended in a failure.
    """
    n = len(gt)
    ious = np.full(n, np.nan)
    fragments = []
    for start in inits:
        end = min([f for f in failures if f > start], default=n)
        frames = np.arange(start + 1, end)
        frames = frames[~absent[frames]]
        overlaps = iou(boxes[frames], gt[frames])
        fragments.append((overlaps.tolist(), end < n))
        counted = frames > start + burnin
        ious[frames[counted]] = overlaps[counted]
    return ious, fragments


def _nulls(values):
    """JSON has no NaN: write null instead."""
    return [None if np.isnan(v) else float(v) for v in values]


def _digest(text, record):
    """SHA-256 of a pair's box file and its record (less this digest): the results are scored from
    both, and a changed byte in either would change the scores without a sign."""
    record = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256((text + json.dumps(record, sort_keys=True)).encode()).hexdigest()


def _save(stem, boxes, record):
    """The boxes as an OTB result file, then the record: the .json comes last, as it marks the pair done."""
    text = io.StringIO()
    np.savetxt(text, boxes, fmt="%.2f", delimiter=",")
    write_text(stem + ".txt", text.getvalue())
    write_json(stem + ".json", {**record, "sha256": _digest(text.getvalue(), record)})


def run_ope(tracker, sequence, stem, setup):
    boxes, scores, times = track_sequence(tracker, sequence)
    updated = ~np.isnan(times)
    # Scored later from the result file, under the protocol asked for then.
    _save(
        stem,
        boxes,
        {
            "sequence": sequence.name,
            "setup": setup,
            "times": _nulls(times),
            "scores": _nulls(scores),
            "fps": float(updated.sum() / times[updated].sum()) if updated.any() else None,
        },
    )


def run_vot(tracker, sequence, stem, setup):
    boxes, inits, failures = track_supervised(tracker, sequence)
    boxes = np.round(boxes, 2)
    ious, fragments = supervised_overlaps(boxes, sequence.boxes, sequence.absent, inits, failures)
    _save(
        stem,
        boxes,
        {
            "sequence": sequence.name,
            "setup": setup,
            "inits": inits,
            "failures": failures,
            "ious": _nulls(ious),
            "fragments": fragments,
        },
    )


RUNS = {"ope": run_ope, "vot": run_vot}


def record_stem(out, mode, tracker, sequence):
    """Where a pair's <stem>.txt and <stem>.json go."""
    folder = folder_name(tracker) if mode == "ope" else os.path.join("vot", folder_name(tracker))
    return os.path.join(out, folder, sequence.name)


def done_setup(out, mode, tracker, sequence):
    """The setup_id a finished pair was made under ("" for records from before there was one, or
    before they carried a checksum: stale), or None if the pair is not finished or its files are
    damaged (said on stderr)."""
    stem = record_stem(out, mode, tracker, sequence)
    if not (os.path.isfile(stem + ".txt") and os.path.isfile(stem + ".json")):
        return None
    try:
        with open(stem + ".txt") as f:
            text = f.read()
        record = load_record(out, mode, tracker, sequence)
    except ValueError:  # not text, or not JSON
        record = None
    if not isinstance(record, dict) or ("sha256" in record and record["sha256"] != _digest(text, record)):
        print(f"benchmark: {stem}.txt or .json is damaged: running it again", file=sys.stderr)
        return None
    return record.get("setup", "") if "sha256" in record else ""


def load_record(out, mode, tracker, sequence):
    with open(record_stem(out, mode, tracker, sequence) + ".json") as f:
        return json.load(f)


def load_boxes(out, mode, tracker, sequence):
    return np.loadtxt(record_stem(out, mode, tracker, sequence) + ".txt", delimiter=",", ndmin=2)


def reporting(sequence, tick):
    """A copy of `sequence` whose frames() calls tick(1) for each frame read, for the progress line."""

    def frames():
        for frame in sequence.frames():
            tick(1)
            yield frame

    copy = dataclasses.replace(sequence)
    copy.frames = frames
    return copy


def run_job(job, tick):
    """Track one (mode, tracker spec, sequence) pair and save it, telling tick(1) of each frame read;
    returns the pair's key and error text or None."""
    mode, spec, sequence, (name, options), setup, out = job
    key = (mode, spec, sequence.name)
    try:
        with make_tracker(name, **options) as tracker:
            sequence = reporting(sequence, tick)
            RUNS[mode](tracker, sequence, record_stem(out, mode, spec, sequence), setup)
    except Exception as e:  # a tracker that breaks on one sequence must not stop the others
        return key, " ".join(f"{type(e).__name__}: {e}".split())
    return key, None


_frames_read = None  # in a pool worker: the queue it reports the frames it reads to


def limit_threads():
    # N workers with N threads each would fight over the cores.
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    quiet_opencv()


def start_worker(frames_read):
    global _frames_read
    _frames_read = frames_read
    limit_threads()


def drain(frames_read, tick):
    """Pass on to tick what the workers have put in the queue so far."""
    try:
        while True:
            tick(frames_read.get_nowait())
    except queue.Empty:
        pass


def next_answer(answers, frames_read, tick):
    """The pool's next answer, passing on the frames read while it comes."""
    while True:
        drain(frames_read, tick)
        try:
            return answers.next(timeout=0.2)
        except multiprocessing.TimeoutError:
            pass


def _in_worker(work, job):
    return work(job, _frames_read.put)


def run_jobs(jobs, workers, work, tick):
    """Yield the answers of work(job, tick) as the jobs finish, in this process or in a pool of
    `workers`. tick(n) hears of the frames work reads as it reads them: in a pool, through a queue
    that each worker's tick puts them in, read here while the answers are awaited."""
    if workers == 1:
        for job in jobs:
            yield work(job, tick)
        return
    context = multiprocessing.get_context("spawn")
    frames_read = context.Queue()
    with context.Pool(workers, initializer=start_worker, initargs=(frames_read,)) as pool:
        answers = pool.imap_unordered(functools.partial(_in_worker, work), jobs)
        for _ in jobs:
            yield next_answer(answers, frames_read, tick)
        pool.close()
        pool.join()  # a worker that exits cleanly has sent all it put in the queue
    drain(frames_read, tick)


def summarize_ope(records, runs, protocol):
    """A tracker's results.json entry and its overall curves, under `protocol`: records and runs
    (pred, gt, absent, image size) of each sequence."""

    def row(metrics, fps):
        return {**{k: metrics[k] for k in METRICS}, "fps": fps, "frames": metrics["frames"]}

    per_sequence, overall = evaluate(runs, protocol)
    fps = [r["fps"] for r in records if r["fps"] is not None]
    entry = row(overall, float(np.median(fps)) if fps else None)
    entry["sequences"] = {r["sequence"]: row(m, r["fps"]) for r, m in zip(records, per_sequence)}
    return entry, {k: overall[k] for k in CURVES}


def summarize_vot(records):
    """A tracker's vot.json entry: accuracy, robustness (failures per 100 frames) and EAO."""

    def scores(group):
        return vot_accuracy_robustness([r["ious"] for r in group], [len(r["failures"]) for r in group])

    # JSON null stands for NaN; the metrics want NaN back.
    records = [{**r, "ious": np.array(r["ious"], float)} for r in records]
    entry = scores(records)
    entry["eao"] = eao([f for r in records for f in r["fragments"]])
    entry["sequences"] = {r["sequence"]: scores([r]) for r in records}
    return entry


def summarize_longterm(records, runs):
    """A tracker's longterm.json entry: VOT-LT tracking precision, recall and F-score, overall and per
    sequence, from the records' scores and the runs (pred, gt, absent, ...) of each sequence."""
    frames = [longterm_frames(*run[:3], np.array(r["scores"], float)) for r, run in zip(records, runs)]
    entry = longterm_figures(frames)
    entry["sequences"] = {r["sequence"]: longterm_figures([f]) for r, f in zip(records, frames)}
    return entry


def startable(sequences):
    """The sequences where the target is visible at some point; the others are named and left out."""
    for seq in sequences:
        if seq.absent.all():
            print(
                f"benchmark: leaving out {seq.name}: the target is never visible, nothing to start from",
                file=sys.stderr,
            )
    return [seq for seq in sequences if not seq.absent.all()]


def buildable(specs, options):
    """The tracker specs that can be built here, each with make_tracker's name and options, and a
    status.json entry for each one that cannot."""
    built, status = {}, {}
    for spec in dict.fromkeys(specs):
        name, spec_opts = spec_options(spec, options)
        try:
            make_tracker(name, **spec_opts).close()
            built[spec] = name, spec_opts
        except PeerUnavailable as e:
            status[spec] = {"status": "skipped", "reason": str(e)}
            print(f"benchmark: skipping {spec}: {e}", file=sys.stderr)
    return built, status


def check_folders(specs):
    """Two specs must not share a result folder (see peers.folder_name)."""
    folders = {}
    for spec in specs:
        other = folders.setdefault(folder_name(spec), spec)
        if other != spec:
            raise UserError(f"trackers {other} and {spec} would share the folder {folder_name(spec)}; rename one")


def run_all(jobs, workers):
    """Run the jobs, showing progress; returns {tracker: {sequence: error text}} for those that failed."""
    errors, done = {}, 0
    progress = Progress("benchmark", sum(len(job[2]) for job in jobs))

    def tick(frames):
        progress.update(frames, f", {done}/{len(jobs)} runs")

    for (mode, name, seq_name), error in run_jobs(jobs, workers, run_job, tick):
        done += 1
        if error:
            errors.setdefault(name, {})[seq_name if mode == "ope" else f"{seq_name} (supervised)"] = error
    if jobs:
        tick(progress.total - progress.done)  # the frames a failed run did not read
        progress.close()
    return errors


def capped(workers, jobs):
    """No more worker processes than jobs or cores: each costs an interpreter's start and memory,
    and on a shared core two only slow each other down."""
    cap = max(1, min(jobs, os.cpu_count() or 1))
    if workers > cap:
        print(
            f"benchmark: --workers {workers} capped at {cap} ({jobs} runs to do, {os.cpu_count()} cores)",
            file=sys.stderr,
        )
    return min(workers, cap)


def run_benchmark(
    dataset,
    fmt="auto",
    split=None,
    trackers=("siamfc",),
    peer_models=None,
    out="benchmark_out",
    workers=1,
    config=None,
    weights=None,
    force=False,
    lenient=False,
    device="cpu",
    vot=False,
    protocol=None,
):
    """Benchmark `trackers` on the dataset: records and summaries go under `out`; returns results.json's
    per-tracker figures. `protocol`: one of PROTOCOLS, by default the dataset layout's."""
    if workers < 1:
        raise UserError(f"--workers {workers}: give 1 or more")
    quiet_opencv()
    if os.path.isdir(out):
        remove_temporaries(out)  # a killed run's half-written files; finished ones were renamed
    sequences = startable(load_dataset(dataset, fmt, split, lenient))
    if not sequences:
        raise UserError(f"no sequences found in {dataset}; check the dataset path and --split")
    fmt = detect_format(dataset) if fmt == "auto" else fmt
    protocol = protocol or LAYOUT_PROTOCOL[fmt]
    vot = vot or protocol == "vot"
    options = dict(config=config, weights=weights, peer_models=peer_models, device=device)
    built, status = buildable(trackers, options)
    available = list(built)
    check_folders(available)
    writable_folder(out)  # before the runs, not after them
    modes = ("ope", "vot") if vot else ("ope",)
    setups = {spec: setup_id(name, **spec_opts) for spec, (name, spec_opts) in built.items()}
    pairs = [(mode, name, seq) for mode in modes for name in available for seq in sequences]
    found = [done_setup(out, *pair) for pair in pairs]
    stale = sorted({name for (_, name, _), setup in zip(pairs, found) if setup not in (None, setups[name])})
    if stale and not force:
        print(
            f"benchmark: results of {', '.join(stale)} in {out} were made with another config, weights, "
            "model files, library or siamtrack version: running them again",
            file=sys.stderr,
        )
    jobs = [
        (mode, name, seq, built[name], setups[name], out)
        for (mode, name, seq), setup in zip(pairs, found)
        if force or setup != setups[name]
    ]
    print(f"benchmark: {len(jobs)} runs to do, {len(pairs) - len(jobs)} already in {out}", file=sys.stderr)
    for name, errors in run_all(jobs, capped(workers, len(jobs))).items():
        status[name] = {"status": "failed", "errors": errors}

    # A tracker that failed anywhere has no comparable mean, so it is only listed in status.json.
    scored = [name for name in available if name not in status]
    sizes = [frame_size(s) if PROTOCOLS[protocol].clip else None for s in sequences]
    # Long-term figures where the target leaves the view: they need the confidence, the others ignore it.
    longterm = any(leaves_view(s.absent) for s in sequences)
    results, curves, longterm_results = {}, {}, {}
    for name in scored:
        records = [load_record(out, "ope", name, s) for s in sequences]
        runs = [(load_boxes(out, "ope", name, s), s.boxes, s.absent, size) for s, size in zip(sequences, sizes)]
        results[name], curves[name] = summarize_ope(records, runs, protocol)
        if longterm:
            longterm_results[name] = summarize_longterm(records, runs)
    vot_results = (
        {name: summarize_vot([load_record(out, "vot", name, s) for s in sequences]) for name in scored} if vot else None
    )

    made = provenance(dataset, fmt, split, protocol, sequences, setups, built)
    write_json(os.path.join(out, "results.json"), {"provenance": made, "trackers": results})
    write_json(os.path.join(out, "status.json"), status)
    if vot:
        write_json(os.path.join(out, "vot.json"), {"provenance": made, "trackers": vot_results})
    if longterm:
        write_json(os.path.join(out, "longterm.json"), {"provenance": made, "trackers": longterm_results})
    write_report(results, status, out, curves, vot_results, made, longterm_results if longterm else None)
    return results


def _tracker_specs(text):
    specs = [n.strip() for n in text.split(",") if n.strip()]
    try:
        unknown = [spec for spec in specs if parse_spec(spec)[0] not in TRACKERS]
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if unknown or not specs:
        raise argparse.ArgumentTypeError(
            f"unknown tracker {', '.join(unknown) or text!r}; choose from {','.join(TRACKERS)}"
        )
    return specs


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="dataset folder, or a video file with a .txt of boxes")
    parser.add_argument("--format", default="auto", choices=["auto", *LAYOUTS], help="dataset layout")
    parser.add_argument("--split", help="text file of the sequence names to run, one a line")
    parser.add_argument(
        "--trackers",
        type=_tracker_specs,
        default=["siamfc"],
        help=f"comma-separated, from {','.join(TRACKERS)} (default siamfc); ours also as siamfc:CONFIG, "
        "siamfc@WEIGHTS or siamfc:CONFIG@WEIGHTS, several in one run, each labelled so",
    )
    parser.add_argument("--peer-models", help="folder of the Nano/Vit ONNX files (default ../shared/models)")
    parser.add_argument("--out", default="benchmark_out", help="output folder (default benchmark_out)")
    parser.add_argument("--workers", type=_positive, default=1, help="parallel processes (default 1)")
    parser.add_argument("--config", help="SiamFC config YAML")
    parser.add_argument("--weights", help="SiamFC weights file")
    parser.add_argument("--force", action="store_true", help="recompute results already in --out")
    parser.add_argument(
        "--lenient", action="store_true", help="cut sequences whose frame and box counts differ to the shorter"
    )
    parser.add_argument(
        "--vot", action="store_true", help="also run the supervised VOT protocol (accuracy, robustness, EAO)"
    )
    parser.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        help="the official toolkit's scoring rules to follow (default: the dataset layout's; otb for video folders)",
    )
    parser.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="torch device for SiamFC (default cpu)"
    )


def main(args):
    """Run the benchmark from parsed arguments; 1 if a tracker failed on some sequence, else 0."""
    results = run_benchmark(
        args.dataset,
        args.format,
        args.split,
        args.trackers,
        args.peer_models,
        args.out,
        args.workers,
        args.config,
        args.weights,
        args.force,
        args.lenient,
        args.device,
        args.vot,
        args.protocol,
    )
    if results:
        print(format_table(results))
    with open(os.path.join(args.out, "status.json")) as f:
        status = json.load(f)
    for line in status_lines(status):
        print(line)
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return int(any(entry["status"] == "failed" for entry in status.values()))
