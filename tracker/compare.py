"""Is B really better than A? Per-sequence paired differences between two benchmark results.

A and B are results.json files of `run_tracker.py benchmark` (two runs, e.g. before and after a
change), or the same file with two trackers. For each metric: the mean over the sequences both
have of B - A, its standard error, and on how many sequences B is better or worse by more than
--margin. On a dozen sequences one target lost or kept moves a mean AUC by 0.02-0.03; a mean
difference within about two standard errors of zero is not evidence either way.

    python run_tracker.py compare before/results.json after/results.json [--tracker siamfc]
    python run_tracker.py compare out/results.json out/results.json --tracker csrt --tracker-b siamfc
"""

import json
import sys

from .errors import UserError
from .metrics import METRICS, paired_difference


def load(path):
    """A results.json's per-tracker results and its protocol (None for files from before it was recorded)."""
    try:
        with open(path) as f:
            results = json.load(f)
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); give a benchmark output's results.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        results = None
    if not isinstance(results, dict):
        raise UserError(f"{path} is not a results.json (not a JSON object); give a benchmark output's results.json")
    if "provenance" not in results:  # written before results.json recorded how it was made
        return results, None
    return results.get("trackers", {}), results["provenance"].get("protocol")


def per_sequence(path, results, tracker):
    if tracker not in results:
        raise UserError(f"{path} has no results for {tracker!r}; it has {', '.join(sorted(results)) or 'none'}")
    sequences = results[tracker].get("sequences") if isinstance(results[tracker], dict) else None
    if not isinstance(sequences, dict) or not sequences:
        raise UserError(f"{path} has no per-sequence results for {tracker!r}; give a benchmark output's results.json")
    return sequences


def compare(a, b, margin):
    """Lines of text, one per metric both have on every sequence, for per-sequence results a and b."""
    lines = []
    for metric in METRICS:
        if not all(metric in m for m in (*a.values(), *b.values())):
            lines.append(f"{metric:15s} not in both results")
            continue
        r = paired_difference({n: m[metric] for n, m in a.items()}, {n: m[metric] for n, m in b.items()}, margin)
        lines.append(
            f"{metric:15s} B - A = {r['mean']:+.4f} ± {r['se']:.4f} (standard error, {r['sequences']} "
            f"sequences); B better on {r['better']}, worse on {r['worse']} (by more than {margin})"
        )
    return lines


def compare_files(path_a, path_b, tracker="siamfc", tracker_b=None, margin=0.01):
    """compare()'s lines for `tracker` in results file A and `tracker_b` (by default the same) in B;
    warns on stderr when the two were scored under different protocols."""
    (results_a, protocol_a), (results_b, protocol_b) = load(path_a), load(path_b)
    if protocol_a != protocol_b:
        print(
            f"compare: {path_a} was scored under protocol {protocol_a or 'unrecorded (before --protocol)'}, "
            f"{path_b} under {protocol_b or 'unrecorded (before --protocol)'}: differences mix in the rules",
            file=sys.stderr,
        )
    a = per_sequence(path_a, results_a, tracker)
    b = per_sequence(path_b, results_b, tracker_b or tracker)
    if not set(a) & set(b):
        raise UserError(f"{path_a} and {path_b} have no sequence in common; run both on the same split")
    return compare(a, b, margin)


def add_arguments(parser):
    parser.add_argument("a", help="results.json of the baseline run")
    parser.add_argument("b", help="results.json of the run to compare with it")
    parser.add_argument("--tracker", default="siamfc", help="tracker (as labelled) in A, and in B unless --tracker-b")
    parser.add_argument("--tracker-b", help="tracker in B, if another one")
    parser.add_argument("--margin", type=float, default=0.01, help="smallest difference counted as better or worse")


def main(args):
    print("\n".join(compare_files(args.a, args.b, args.tracker, args.tracker_b, args.margin)))
