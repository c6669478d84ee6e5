"""Run trackers over a dataset, keep every (tracker, sequence) result on disk, and score them.

Each pair's result is saved as it completes, so a rerun (or a killed run) only does what is missing.
One-pass (OTB) results go to <out>/<tracker>/<seq>.txt|json, the supervised (VOT) ones to
<out>/vot/<tracker>/<seq>.txt|json; results.json, status.json, vot.json and the report sum them up.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

from .errors import UserError
from .fileio import remove_temporaries, writable_folder, write_json
from .metrics import METRICS, eao, longterm_figures, vot_accuracy_robustness
from .peers import PeerUnavailable, quiet_opencv
from .pool import reporting, run_jobs
from .progress import Progress
from .protocols import LAYOUT_PROTOCOL, PROTOCOLS, evaluate, leaves_view, longterm_frames
from .provenance import provenance
from .records import RUNS, done_setup, load_boxes, load_record, record_stem
from .report import format_table, status_lines, write_report
from .runner import frame_size
from .sequences import LAYOUTS, detect_format, load_dataset
from .specs import TRACKERS, folder_name, make_tracker, parse_spec, setup_id, spec_options

CURVES = ("success_curve", "precision_curve", "norm_precision_curve")


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
    """Two specs must not share a result folder (see specs.folder_name)."""
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
    dataset: str | os.PathLike,
    *,
    fmt: str = "auto",
    split: str | os.PathLike | None = None,
    trackers: Sequence[str] = ("siamfc",),
    peer_models: str | os.PathLike | None = None,
    out: str | os.PathLike = "benchmark_out",
    workers: int = 1,
    config: str | None = None,
    weights: str | None = None,
    force: bool = False,
    lenient: bool = False,
    device: str = "cpu",
    vot: bool = False,
    protocol: str | None = None,
) -> dict[str, dict]:
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
        fmt=args.format,
        split=args.split,
        trackers=args.trackers,
        peer_models=args.peer_models,
        out=args.out,
        workers=args.workers,
        config=args.config,
        weights=args.weights,
        force=args.force,
        lenient=args.lenient,
        device=args.device,
        vot=args.vot,
        protocol=args.protocol,
    )
    if results:
        print(format_table(results))
    with open(os.path.join(args.out, "status.json")) as f:
        status = json.load(f)
    for line in status_lines(status):
        print(line)
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return int(any(entry["status"] == "failed" for entry in status.values()))
