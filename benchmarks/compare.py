"""Is B really better than A? Per-sequence paired differences between two benchmark results.

A and B are results.json files of `run_tracker.py benchmark` (two runs, e.g. before and after a
change), or the same file with two trackers. For each metric: the mean over the sequences both
have of B - A, its standard error, and on how many sequences B is better or worse by more than
--margin. On a dozen sequences one target lost or kept moves a mean AUC by 0.02-0.03; a mean
difference within about two standard errors of zero is not evidence either way.

    python benchmarks/compare.py before/results.json after/results.json [--tracker siamfc]
    python benchmarks/compare.py out/results.json out/results.json --tracker csrt --tracker-b siamfc
"""

import argparse
import json
import sys

from tracker.errors import UserError, run_script
from tracker.metrics import METRICS, paired_difference


def load(path):
    """A results.json's per-tracker results and its protocol (None for files from before it was recorded)."""
    try:
        with open(path) as f:
            results = json.load(f)
    except OSError:
        raise UserError(f"results file not found: {path}; give a benchmark output's results.json") from None
    except json.JSONDecodeError:
        raise UserError(
            f"{path} is not a results.json (not valid JSON); give a benchmark output's results.json"
        ) from None
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", help="results.json of the baseline run")
    parser.add_argument("b", help="results.json of the run to compare with it")
    parser.add_argument("--tracker", default="siamfc", help="tracker in A (and in B unless --tracker-b)")
    parser.add_argument("--tracker-b", help="tracker in B, if another one")
    parser.add_argument("--margin", type=float, default=0.01, help="smallest difference counted as better or worse")
    args = parser.parse_args(argv)
    (results_a, protocol_a), (results_b, protocol_b) = load(args.a), load(args.b)
    if protocol_a != protocol_b:
        print(
            f"compare: {args.a} was scored under protocol {protocol_a or 'unrecorded (before --protocol)'}, "
            f"{args.b} under {protocol_b or 'unrecorded (before --protocol)'}: differences mix in the rules",
            file=sys.stderr,
        )
    a = per_sequence(args.a, results_a, args.tracker)
    b = per_sequence(args.b, results_b, args.tracker_b or args.tracker)
    if not set(a) & set(b):
        raise UserError(f"{args.a} and {args.b} have no sequence in common; run both on the same split")
    print("\n".join(compare(a, b, args.margin)))


if __name__ == "__main__":
    run_script(main)
