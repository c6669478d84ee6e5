"""What a benchmark's figures were made from, written beside them: two results files that differ in
any of it are not comparable figure for figure."""

import hashlib
import os
import platform
from datetime import datetime, timezone
from importlib import metadata

import numpy as np

from . import __version__
from .peers import MODEL_FILES, models_folder


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or "unknown CPU"


def versions():
    import cv2  # OpenCV's version is its module's: its distribution has several names

    found = {"python": platform.python_version(), "siamtrack": __version__, "opencv": cv2.__version__}
    for package in ("numpy", "torch", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ground_truth_sha256(sequences):
    """A hash of the sequences' names in order (so of the split too), boxes and absence flags."""
    h = hashlib.sha256()
    for seq in sequences:
        h.update(seq.name.encode() + b"\0")
        h.update(np.ascontiguousarray(seq.boxes, "<f8").tobytes())
        h.update(np.packbits(seq.absent).tobytes())
    return h.hexdigest()


def tracker_files(name, config=None, weights=None, peer_models=None):
    """The files tracker `name` was built from, with their hashes: ours its config and weights, a peer its models."""
    if name == "siamfc":
        from .config import resolve as resolve_config
        from .config import resolve_weights
        from .params import DEFAULT_CONFIG, load_params

        config_path = resolve_config(config) if config else DEFAULT_CONFIG
        weights_path = resolve_weights(weights or load_params(config)["weights"])
        return {
            "config": os.path.abspath(config_path),
            "weights": os.path.abspath(weights_path),
            "weights_sha256": file_sha256(weights_path),
        }
    paths = [os.path.join(models_folder(peer_models), f) for f in MODEL_FILES.get(name, ())]
    return {"models": {os.path.abspath(p): file_sha256(p) for p in paths}} if paths else {}


def _tracker_entry(setup, name, options):
    return {"setup": setup, **tracker_files(name, options["config"], options["weights"], options["peer_models"])}


def provenance(dataset, fmt, split, protocol, sequences, setups, built):
    """results.json's provenance: setups maps each tracker spec run to its setup_id, built to its
    make_tracker name and options."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical CPUs)",
        "dataset": os.path.abspath(dataset),
        "format": fmt,
        "split": os.fspath(split) if split else None,
        "sequences": len(sequences),
        "ground_truth_sha256": ground_truth_sha256(sequences),
        "protocol": protocol,
        "trackers": {spec: _tracker_entry(setup, *built[spec]) for spec, setup in setups.items()},
    }
