"""OpenCV's trackers behind the interface of ours, so the benchmark can run them side by side."""

import ast
import functools
import hashlib
import json
import os
import re

import cv2
import numpy as np

from .errors import UserError
from .interface import Tracker

PEERS = ("csrt", "kcf", "mil", "mosse", "nano", "vit")
# Only these report a confidence; the others' getTrackingScore() answers -1.
SCORED = ("nano", "vit")
TRACKERS = ("siamfc",) + PEERS
# Relative to the working directory, like every other path the user gives.
DEFAULT_PEER_MODELS = os.path.join("..", "shared", "models")


def quiet_opencv():
    # OpenCV's DNN warns on every Nano/Vit tracker it builds that it ignores the compute target.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class PeerUnavailable(UserError):
    """This OpenCV build or model folder cannot provide the peer; the message says why."""


def _model_file(folder, name):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise PeerUnavailable(f"model file {path} not found; pass --peer-models DIR, the folder holding {name}")
    return path


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


MODEL_FILES = {"nano": ("nanotrack_v2_backbone.onnx", "nanotrack_v2_head.onnx"), "vit": ("vittrack_2023sep.onnx",)}


def _nano(folder):
    params = cv2.TrackerNano_Params()
    params.backbone, params.neckhead = (_model_file(folder, name) for name in MODEL_FILES["nano"])
    return cv2.TrackerNano.create(params)


def _vit(folder):
    params = cv2.TrackerVit_Params()
    params.net = _model_file(folder, MODEL_FILES["vit"][0])
    return cv2.TrackerVit.create(params)


_BUILDERS = {
    "csrt": lambda folder: cv2.TrackerCSRT.create(),
    "kcf": lambda folder: cv2.TrackerKCF.create(),
    "mil": lambda folder: cv2.TrackerMIL.create(),
    # MOSSE survives only in the contrib build's legacy API.
    "mosse": lambda folder: cv2.legacy.TrackerMOSSE.create(),
    "nano": _nano,
    "vit": _vit,
}


class PeerTracker(Tracker):
    """An OpenCV tracker that answers like ours: a float box, a score, and `lost`."""

    def __init__(self, name, create):
        self.name = name
        self._create = create  # makes a fresh OpenCV tracker
        self._tracker = None
        self._box = None
        self.lost = False

    def init(self, frame, box):
        # OpenCV's trackers are not safe to init twice (KCF fails or corrupts memory on a new size).
        self._tracker = self._create()
        box = np.asarray(box, dtype=np.float64)
        # OpenCV's Rect is integer and an empty one is rejected.
        x, y, w, h = np.round(box).astype(int)
        self._tracker.init(frame, (int(x), int(y), max(int(w), 1), max(int(h), 1)))
        self._box = box.copy()
        self.lost = False

    def update(self, frame):
        ok, box = self._tracker.update(frame)
        self.lost = not ok
        if not ok:
            # A failed update returns a meaningless box; staying put is the fair guess.
            return self._box.copy(), 0.0
        self._box = np.array(box, dtype=np.float64)
        score = self._tracker.getTrackingScore() if self.name in SCORED else 1.0
        return self._box.copy(), float(score)


def _models_folder(peer_models):
    return DEFAULT_PEER_MODELS if peer_models is None else os.fspath(peer_models)


def make_peer(name, peer_models=None):
    """Build OpenCV tracker `name` (one of PEERS); raises PeerUnavailable if it cannot be built here."""
    folder = _models_folder(peer_models)
    create = functools.partial(_BUILDERS[name], folder)
    try:
        create()  # so that a peer which cannot be built fails here, not on the first frame
    except AttributeError:
        raise PeerUnavailable(
            f"OpenCV {cv2.__version__} here has no {name} tracker; install opencv-contrib-python-headless>=4.10"
        ) from None
    except cv2.error as e:
        detail = str(e).strip().splitlines()[-1]
        raise PeerUnavailable(
            f"OpenCV could not load the {name} model from {folder} ({detail}); "
            "pass --peer-models DIR holding intact model files"
        ) from None
    return PeerTracker(name, create)


def make_tracker(name, config=None, weights=None, peer_models=None, device="cpu", tracking=None):
    """Our tracker ('siamfc') or an OpenCV peer, all with init(frame, box) / update(frame) -> (box, score).
    `tracking` overrides keys of our config's tracking section."""
    if name == "siamfc":
        # Imported here so that runs of the peers alone never load torch.
        from .build import build_tracker

        return build_tracker(config, weights, device, tracking)
    if name not in _BUILDERS:
        raise UserError(f"unknown tracker {name!r}; choose from {', '.join(TRACKERS)}")
    return make_peer(name, peer_models)


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
        import torch

        from .params import load_params
        from .weights import resolve

        params = load_params(config)
        h.update(json.dumps([params, device, torch.__version__], sort_keys=True).encode())
        files = [resolve(weights or params["weights"]), *tracking_sources()]
    else:
        files = [os.path.join(_models_folder(peer_models), f) for f in MODEL_FILES.get(name, ())]
    for path in files:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]
