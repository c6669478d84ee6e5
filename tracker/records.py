"""Each (tracker, sequence) result of a benchmark on disk: an OTB-style box file and a JSON record
that marks it done, with the setup it was made under and a checksum of both."""

import hashlib
import io
import json
import os
import sys

import numpy as np

from .fileio import write_json, write_text
from .runner import supervised_overlaps, track_sequence, track_supervised
from .specs import folder_name


def _nulls(values):
    """JSON has no NaN: write null instead."""
    return [None if np.isnan(v) else float(v) for v in values]


def _digest(text, record):
    """SHA-256 of a pair's box file and its record (less this digest): the results are scored from
    both, and a changed byte in either would change the scores without a sign."""
    record = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256((text + json.dumps(record, sort_keys=True)).encode()).hexdigest()


def _save(stem, boxes, record):
    """The boxes as an OTB result file, then the record: the .json comes last, as it marks the pair done."""
    text = io.StringIO()
    np.savetxt(text, boxes, fmt="%.2f", delimiter=",")
    write_text(stem + ".txt", text.getvalue())
    write_json(stem + ".json", {**record, "sha256": _digest(text.getvalue(), record)})


def run_ope(tracker, sequence, stem, setup):
    boxes, scores, times = track_sequence(tracker, sequence)
    updated = ~np.isnan(times)
    # Scored later from the result file, under the protocol asked for then.
    _save(
        stem,
        boxes,
        {
            "sequence": sequence.name,
            "setup": setup,
            "times": _nulls(times),
            "scores": _nulls(scores),
            "fps": float(updated.sum() / times[updated].sum()) if updated.any() else None,
        },
    )


def run_vot(tracker, sequence, stem, setup):
    boxes, inits, failures = track_supervised(tracker, sequence)
    boxes = np.round(boxes, 2)
    ious, fragments = supervised_overlaps(boxes, sequence.boxes, sequence.absent, inits, failures)
    _save(
        stem,
        boxes,
        {
            "sequence": sequence.name,
            "setup": setup,
            "inits": inits,
            "failures": failures,
            "ious": _nulls(ious),
            "fragments": fragments,
        },
    )


RUNS = {"ope": run_ope, "vot": run_vot}


def record_stem(out, mode, tracker, sequence):
    """Where a pair's <stem>.txt and <stem>.json go."""
    folder = folder_name(tracker) if mode == "ope" else os.path.join("vot", folder_name(tracker))
    return os.path.join(out, folder, sequence.name)


def done_setup(out, mode, tracker, sequence):
    """The setup_id a finished pair was made under ("" for records from before there was one, or
    before they carried a checksum: stale), or None if the pair is not finished or its files are
    damaged (said on stderr)."""
    stem = record_stem(out, mode, tracker, sequence)
    if not (os.path.isfile(stem + ".txt") and os.path.isfile(stem + ".json")):
        return None
    try:
        with open(stem + ".txt") as f:
            text = f.read()
        record = load_record(out, mode, tracker, sequence)
    except ValueError:  # not text, or not JSON
        record = None
    if not isinstance(record, dict) or ("sha256" in record and record["sha256"] != _digest(text, record)):
        print(f"benchmark: {stem}.txt or .json is damaged: running it again", file=sys.stderr)
        return None
    return record.get("setup", "") if "sha256" in record else ""


def load_record(out, mode, tracker, sequence):
    with open(record_stem(out, mode, tracker, sequence) + ".json") as f:
        return json.load(f)


def load_boxes(out, mode, tracker, sequence):
    return np.loadtxt(record_stem(out, mode, tracker, sequence) + ".txt", delimiter=",", ndmin=2)
