"""The benchmark's readable outputs: a markdown report and OTB-style success and precision plots."""
import os

from .fileio import atomic_path, atomic_write
from .metrics import THRESHOLDS_IOU, THRESHOLDS_PX

# (header, key in results, decimals)
COLUMNS = [("AUC", "auc", 3), ("P@20", "precision", 3), ("norm P", "norm_precision", 3), ("AO", "ao", 3),
           ("SR50", "sr50", 3), ("SR75", "sr75", 3), ("fps", "fps", 1), ("frames", "frames", 0)]
VOT_COLUMNS = [("accuracy", "accuracy", 3), ("robustness", "robustness", 3), ("EAO", "eao", 3),
               ("failures", "failures", 0)]


def ranked(results, key="auc"):
    """Tracker names, best first by `key`."""
    return sorted(results, key=lambda name: results[name][key], reverse=True)


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value, digits):
    # fps is None for a tracker that never ran update() (one-frame sequences).
    return "-" if value is None else f"{value:.{digits}f}"


def _summary_table(results, columns, key):
    rows = [[name] + [_cell(results[name][k], digits) for _, k, digits in columns]
            for name in ranked(results, key)]
    return _markdown_table(["tracker"] + [title for title, _, _ in columns], rows)


def format_table(results):
    """The overall table, best tracker first by AUC, as markdown (readable in a terminal too)."""
    return _summary_table(results, COLUMNS, "auc")


def sequence_table(results):
    """AUC of every tracker on every sequence: rows are sequences, columns trackers best first."""
    names = ranked(results)
    sequences = results[names[0]]["sequences"]
    rows = [[seq] + [f"{results[name]['sequences'][seq]['auc']:.3f}" for name in names] for seq in sequences]
    return _markdown_table(["sequence"] + names, rows)


def status_lines(status):
    """One line per tracker that was skipped or failed, with the reason."""
    lines = []
    for name, entry in status.items():
        if entry["status"] == "skipped":
            lines.append(f"- {name}: skipped, {entry['reason']}")
        else:
            lines += [f"- {name}: failed on {seq}: {error}" for seq, error in entry["errors"].items()]
    return lines


def _plot(path, results, curves, key, title, xlabel, ylabel, thresholds, legend_loc):
    """Curves of every tracker, best first by results[key]; a tracker keeps its colour in every plot."""
    from matplotlib.figure import Figure   # matplotlib takes a second to import: only when plotting
    curve = {"auc": "success_curve", "precision": "precision_curve"}[key]
    colours = {name: f"C{i}" for i, name in enumerate(ranked(results))}
    fig = Figure(figsize=(6, 5), dpi=100)
    ax = fig.add_subplot()
    for name in ranked(results, key):
        ax.plot(thresholds, curves[name][curve], color=colours[name], linewidth=2,
                label=f"{name} [{results[name][key]:.3f}]")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(thresholds[0], thresholds[-1]), ylim=(0, 1))
    ax.grid(True)
    ax.legend(loc=legend_loc)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def write_report(results, status, out_dir, curves, vot=None):
    """Write report.md, success.png and precision.png into out_dir.

    results: as in results.json; status: {tracker: {"status": "skipped", "reason"} or
    {"status": "failed", "errors": {seq: text}}}; curves: {tracker: {"success_curve", "precision_curve"}}
    averaged over sequences; vot: {tracker: {"accuracy", "robustness", "eao", "failures"}} or None.
    """
    parts = ["# Benchmark"]
    if results:
        parts += ["## One-pass evaluation",
                  "Each tracker starts from the ground truth on the first frame where the target is visible. "
                  "That frame and frames without the target are not scored. P@20: centre error within 20 px. "
                  "fps: time inside update() only, median over sequences.",
                  format_table(results),
                  "![success](success.png) ![precision](precision.png)",
                  "## AUC per sequence", sequence_table(results)]
        _plot(os.path.join(out_dir, "success.png"), results, curves, "auc", "Success plots of OPE",
              "Overlap threshold", "Success rate", THRESHOLDS_IOU, "lower left")
        _plot(os.path.join(out_dir, "precision.png"), results, curves, "precision", "Precision plots of OPE",
              "Location error threshold", "Precision", THRESHOLDS_PX, "lower right")
    if vot:
        parts += ["## Supervised (VOT) evaluation",
                  "A tracker that loses the target (overlap 0) is restarted 5 frames later. Accuracy leaves out "
                  "the 10 frames after each start; robustness counts failures per 100 frames.",
                  _summary_table(vot, VOT_COLUMNS, "eao")]
    if status:
        parts += ["## Not measured", "\n".join(status_lines(status))]
    with atomic_write(os.path.join(out_dir, "report.md")) as f:
        f.write("\n\n".join(parts) + "\n")
