"""Markdown tables, as the benchmark's report and the scripts in benchmarks/ write them."""

import re

from .errors import UserError


def table(head, rows):
    """A markdown table of `head` (column titles) and `rows` (lists of cell strings)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def fill(text, name, table):
    """`text` with the block between its `<!-- NAME:start -->` and `<!-- NAME:end -->` lines
    replaced by `table`: how a measuring script puts its table into a document."""
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise UserError(f"no '<!-- {name}:start -->' ... '<!-- {name}:end -->' block; add one where the table goes")
    return pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text, count=1)
