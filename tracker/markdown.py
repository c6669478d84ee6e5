"""Markdown tables, as the benchmark's report and the scripts in benchmarks/ write them."""


def table(head, rows):
    """A markdown table of `head` (column titles) and `rows` (lists of cell strings)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
