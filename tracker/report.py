"""The benchmark's readable outputs: a markdown report and OTB-style success, precision and
normalised precision plots, each as PNG and PDF."""

import os

from . import markdown
from .fileio import atomic_path, atomic_write
from .metrics import THRESHOLDS_IOU, THRESHOLDS_NORM, THRESHOLDS_PX
from .protocols import PROTOCOLS

# (header, key in results, decimals)
COLUMNS = [
    ("AUC", "auc", 3),
    ("P@20", "precision", 3),
    ("norm P@0.2", "norm_precision", 3),
    ("AO", "ao", 3),
    ("SR50", "sr50", 3),
    ("SR75", "sr75", 3),
    ("fps", "fps", 1),
    ("frames", "frames", 0),
]
VOT_COLUMNS = [
    ("accuracy", "accuracy", 3),
    ("robustness", "robustness", 3),
    ("EAO", "eao", 3),
    ("failures", "failures", 0),
]
LONGTERM_COLUMNS = [("precision", "precision", 3), ("recall", "recall", 3), ("F-score", "fscore", 3)]


def ranked(results, key="auc"):
    """Tracker names, best first by `key`."""
    return sorted(results, key=lambda name: results[name][key], reverse=True)


def _cell(value, digits):
    # fps is None for a tracker that never ran update() (one-frame sequences).
    return "-" if value is None else f"{value:.{digits}f}"


def _summary_table(results, columns, key):
    rows = [[name] + [_cell(results[name][k], digits) for _, k, digits in columns] for name in ranked(results, key)]
    return markdown.table(["tracker"] + [title for title, _, _ in columns], rows)


def format_table(results):
    """The overall table, best tracker first by AUC, as markdown (readable in a terminal too)."""
    return _summary_table(results, COLUMNS, "auc")


def format_longterm_table(longterm):
    """The VOT-LT table (precision, recall, F-score), best tracker first by F-score, as markdown."""
    return _summary_table(longterm, LONGTERM_COLUMNS, "fscore")


def sequence_table(results):
    """AUC of every tracker on every sequence: rows are sequences, columns trackers best first."""
    names = ranked(results)
    sequences = results[names[0]]["sequences"]
    rows = [[seq] + [f"{results[name]['sequences'][seq]['auc']:.3f}" for name in names] for seq in sequences]
    return markdown.table(["sequence"] + names, rows)


def status_lines(status):
    """One line per tracker that was skipped or failed, with the reason."""
    lines = []
    for name, entry in status.items():
        if entry["status"] == "skipped":
            lines.append(f"- {name}: skipped, {entry['reason']}")
        else:
            lines += [f"- {name}: failed on {seq}: {error}" for seq, error in entry["errors"].items()]
    return lines


# (file name, figure in the legend, its curve, title, x-axis label, y-axis label, thresholds, legend place)
PLOTS = [
    (
        "success",
        "auc",
        "success_curve",
        "Success plots of OPE",
        "overlap threshold (IoU)",
        "success rate",
        THRESHOLDS_IOU,
        "lower left",
    ),
    (
        "precision",
        "precision",
        "precision_curve",
        "Precision plots of OPE",
        "location error threshold: centre error (px)",
        "precision",
        THRESHOLDS_PX,
        "lower right",
    ),
    (
        "norm_precision",
        "norm_precision",
        "norm_precision_curve",
        "Normalized precision plots of OPE",
        "location error threshold: centre error / target size",
        "normalized precision",
        THRESHOLDS_NORM,
        "lower right",
    ),
]


def _plot(out_dir, results, curves, plot, sequences):
    """Curves of every tracker, best first by its figure; a tracker keeps its colour in every plot."""
    from matplotlib.figure import Figure  # matplotlib takes a second to import: only when plotting

    stem, key, curve, title, xlabel, ylabel, thresholds, legend_loc = plot
    colours = {name: f"C{i}" for i, name in enumerate(ranked(results))}
    fig = Figure(figsize=(6, 5), dpi=100)
    ax = fig.add_subplot()
    for name in ranked(results, key):
        ax.plot(
            thresholds,
            curves[name][curve],
            color=colours[name],
            linewidth=2,
            label=f"{name} [{results[name][key]:.3f}]",
        )
    ax.set(
        title=f"{title} ({sequences} sequences)",
        xlabel=xlabel,
        ylabel=ylabel,
        xlim=(thresholds[0], thresholds[-1]),
        ylim=(0, 1),
    )
    ax.grid(True)
    ax.legend(loc=legend_loc)
    fig.tight_layout()
    for fmt in ("png", "pdf"):  # PDF for papers: vector, scales without blur
        with atomic_path(os.path.join(out_dir, f"{stem}.{fmt}")) as tmp:
            fig.savefig(tmp, format=fmt)


def provenance_lines(made):
    """What the figures were made from, as markdown list items."""
    lines = [
        f"- {made['date']}, protocol {made['protocol']}",
        f"- dataset {made['dataset']} ({made['format']}, split {made['split'] or 'all'}, "
        f"{made['sequences']} sequences, ground truth sha256 {made['ground_truth_sha256'][:16]})",
        "- " + ", ".join(f"{k} {v}" for k, v in made["versions"].items() if v) + f"; CPU {made['cpu']}",
    ]
    for name, tracker in made["trackers"].items():
        files = [f"config {tracker['config']}"] if "config" in tracker else []
        if "weights" in tracker:
            files.append(f"weights {tracker['weights']} (sha256 {tracker['weights_sha256'][:16]})")
        files += [f"{path} (sha256 {digest[:16]})" for path, digest in tracker.get("models", {}).items()]
        lines.append(f"- {name}: setup {tracker['setup']}" + "".join(f", {f}" for f in files))
    return lines


def write_report(results, status, out_dir, curves, vot=None, made=None, longterm=None):
    """Write report.md and the plots (success, precision, norm_precision; .png and .pdf) into out_dir.

    results: results.json's "trackers"; status: {tracker: {"status": "skipped", "reason"} or
    {"status": "failed", "errors": {seq: text}}}; curves: {tracker: {"success_curve", "precision_curve",
    "norm_precision_curve"}} as overall; vot: {tracker: {"accuracy", "robustness", "eao", "failures"}} or
    None; made: results.json's "provenance", or None; longterm: {tracker: {"precision", "recall", "fscore"}}
    or None.
    """
    parts = ["# Benchmark"]
    if results:
        rules = PROTOCOLS[made["protocol"]].note + " " if made else ""
        parts += [
            "## One-pass evaluation",
            "Each tracker starts from the ground truth on the first frame where the target is visible. "
            f"{rules}P@20: centre error within 20 px; norm P@0.2: within 0.2 of the target's size. "
            "fps: time inside update() only, median over sequences.",
            format_table(results),
            " ".join(f"![{plot[0]}]({plot[0]}.png)" for plot in PLOTS),
            "## AUC per sequence",
            sequence_table(results),
        ]
        sequences = len(next(iter(results.values()))["sequences"])
        for plot in PLOTS:
            _plot(out_dir, results, curves, plot, sequences)
    if vot:
        parts += [
            "## Supervised (VOT) evaluation",
            "A tracker that loses the target (overlap 0) is restarted 5 frames later. Accuracy leaves out "
            "the 10 frames after each start; robustness counts failures per 100 frames.",
            _summary_table(vot, VOT_COLUMNS, "eao"),
        ]
    if longterm:
        parts += [
            "## Long-term (VOT-LT) evaluation",
            "The target leaves the view in some sequences. At a confidence threshold, the tracker reports the "
            "target where its score reaches it; precision is the mean IoU over those frames, recall the summed "
            "IoU over the frames where the target is visible; F-score is the best 2PR/(P+R) over the thresholds, "
            "precision and recall are there. Over the frames after the init; means over sequences.",
            format_longterm_table(longterm),
        ]
    if status:
        parts += ["## Not measured", "\n".join(status_lines(status))]
    if made:
        parts += ["## Provenance", "\n".join(provenance_lines(made))]
    with atomic_write(os.path.join(out_dir, "report.md")) as f:
        f.write("\n\n".join(parts) + "\n")
