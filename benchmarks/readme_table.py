"""Put a benchmark run's overall table into the README, between its `<!-- NAME:start -->` and
`<!-- NAME:end -->` lines, so that the README shows what the run measured and nothing pasted by hand.
Given a run's longterm.json instead of its results.json, the long-term (VOT-LT) table.

    python benchmarks/readme_table.py benchmark_out/results.json --name dev-table
    python benchmarks/readme_table.py benchmark_out/longterm.json --name longterm-table
"""

import argparse
import json

from tracker.errors import UserError, run_script
from tracker.markdown import fill_file
from tracker.report import format_longterm_table, format_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a benchmark's results.json")
    parser.add_argument("--name", default="dev-table", help="the README block to fill (default dev-table)")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args()
    try:
        with open(args.results) as f:
            results = json.load(f)["trackers"]
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"cannot read {args.results} ({e}); give a benchmark's results.json") from None
    longterm = all("fscore" in figures for figures in results.values())
    table = format_longterm_table(results) if longterm else format_table(results)
    fill_file(args.readme, args.name, table)
    print(f"wrote the {args.name} table of {args.results} into {args.readme}")


if __name__ == "__main__":
    run_script(main)
