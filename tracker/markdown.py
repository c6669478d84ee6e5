"""Markdown tables, as the benchmark's report and the scripts in benchmarks/ write them."""

import re

from .errors import UserError
from .fileio import write_text


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


def fill_file(path, name, table):
    """fill() the file at `path` (a README) in place, written whole."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); run from the repository's top folder") from None
    write_text(path, fill(text, name, table))
