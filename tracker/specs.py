"""Which tracker a name or a --trackers spec means (ours with its config and weights, or an OpenCV
peer), building it, and the fingerprint of what its boxes depend on."""

import ast
import functools
import hashlib
import importlib.metadata
import json
import os
import re

import cv2

from .errors import UserError
from .peers import MODEL_FILES, PEERS, make_peer, models_folder

TRACKERS = ("siamfc",) + PEERS
# Our tracker's boxes depend on its code too: a benchmark run after a change to any module that
# building it, running it over a sequence or decoding the frames imports is run again.
TRACKING_ROOTS = ("build.py", "runner.py", "video.py")


@functools.cache
def tracking_sources():
    """The package's source files that TRACKING_ROOTS import, directly or through each other, read
    from their import statements (those inside functions too), so that no list is kept by hand."""
    here = os.path.dirname(os.path.abspath(__file__))
    seen, todo = set(), list(TRACKING_ROOTS)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        with open(os.path.join(here, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo += [f"{node.module}.py"] if node.module else [f"{alias.name}.py" for alias in node.names]
    return tuple(os.path.join(here, name) for name in sorted(seen))


def make_tracker(name, config=None, weights=None, peer_models=None, device="cpu", tracking=None):
    """Our tracker ('siamfc') or an OpenCV peer, all with init(frame, box) / update(frame) -> (box, score).
    `tracking` overrides keys of our config's tracking section."""
    if name == "siamfc":
        # Imported here so that runs of the peers alone never load torch.
        from .build import build_tracker

        return build_tracker(config, weights, device, tracking)
    if name not in PEERS:
        raise UserError(f"unknown tracker {name!r}; choose from {', '.join(TRACKERS)}")
    return make_peer(name, peer_models)


def make_multi_tracker(name, config=None, weights=None, peer_models=None, device="cpu", tracking=None):
    """make_tracker's tracker for several targets: init(frame, boxes) / update(frame) -> [(box, score), ...].
    Ours scores all the targets' crops of a frame in one batch; a peer runs one tracker per target."""
    return multi_tracker_maker(name, config, weights, peer_models, device, tracking)()


def multi_tracker_maker(name, config=None, weights=None, peer_models=None, device="cpu", tracking=None):
    """A function that makes make_multi_tracker's trackers; ours all share one network engine, built
    now. A tracker that can't be built fails here, not on the first one asked for."""
    if name == "siamfc":
        from .build import multi_tracker_maker as ours

        return ours(config, weights, device, tracking)
    from .interface import MultiTracker

    make_tracker(name, peer_models=peer_models)  # an unknown or unavailable peer fails here, not on the first frame
    return functools.partial(MultiTracker, functools.partial(make_peer, name, peer_models))


def parse_spec(spec):
    """(name, config, weights) of a --trackers spec: a tracker's name, for ours optionally followed by
    ':CONFIG' (a YAML file or a shipped config's name) and '@WEIGHTS'; absent parts are None."""
    rest, at, weights = spec.partition("@")
    name, colon, config = rest.partition(":")
    if (at and not weights) or (colon and not config):
        raise UserError(f"tracker {spec!r}: give a config after ':' and a weights file after '@'")
    if (config or weights) and name != "siamfc":
        raise UserError(f"tracker {spec!r}: only siamfc takes :CONFIG or @WEIGHTS")
    return name, config or None, weights or None


def spec_options(spec, options):
    """make_tracker's name and options for a --trackers spec: its config and weights, where it gives
    them, replace those of `options`."""
    name, config, weights = parse_spec(spec)
    return name, {**options, "config": config or options["config"], "weights": weights or options["weights"]}


def folder_name(spec):
    """A spec as a folder name: path separators, ':' and other characters some file systems refuse become '_'."""
    return re.sub(r"[^\w.@+-]", "_", spec)


def setup_id(name, config=None, weights=None, peer_models=None, device="cpu"):
    """A fingerprint of what tracker `name`'s boxes depend on besides the frames: for ours, the
    tracking parameters, the weights file's bytes, the tracking code, the device and library
    versions; for a peer, the OpenCV version and its model files. Benchmark results made under
    another fingerprint are stale.

    Call it for a tracker that make_tracker has built, so that every file it reads exists.
    """
    h = hashlib.sha256(f"{name} opencv {cv2.__version__}".encode())
    if name == "siamfc":
        from .config import resolve_weights
        from .params import load_params

        params = load_params(config)
        h.update(json.dumps([params, device, importlib.metadata.version("torch")], sort_keys=True).encode())
        files = [resolve_weights(weights or params["weights"]), *tracking_sources()]
    else:
        files = [os.path.join(models_folder(peer_models), f) for f in MODEL_FILES.get(name, ())]
    for path in files:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]
