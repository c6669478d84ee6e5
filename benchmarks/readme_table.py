"""Put a benchmark run's overall table into the README, between its `<!-- NAME:start -->` and
`<!-- NAME:end -->` lines, so that the README shows what the run measured and nothing pasted by hand.

    python benchmarks/readme_table.py benchmark_out/results.json --name dev-table
"""

import argparse
import json
import re

from tracker.errors import UserError, run_script
from tracker.fileio import write_text
from tracker.report import format_table


def fill(text, name, table):
    """`text` with the block between NAME's start and end markers replaced by `table`."""
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise UserError(f"no '<!-- {name}:start -->' ... '<!-- {name}:end -->' block; add one where the table goes")
    return pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text, count=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a benchmark's results.json")
    parser.add_argument("--name", default="dev-table", help="the README block to fill (default dev-table)")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args()
    try:
        with open(args.results) as f:
            results = json.load(f)["trackers"]
        with open(args.readme) as f:
            text = f.read()
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"cannot read {args.results} or {args.readme} ({e}); give a benchmark's results.json") from None
    write_text(args.readme, fill(text, args.name, format_table(results)))
    print(f"wrote the {args.name} table of {args.results} into {args.readme}")


if __name__ == "__main__":
    run_script(main)
