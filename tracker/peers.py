"""OpenCV's trackers behind the interface of ours, so the benchmark can run them side by side."""

import functools
import os

import cv2
import numpy as np

from .errors import UserError
from .interface import Tracker

PEERS = ("csrt", "kcf", "mil", "mosse", "nano", "vit")
# Only these report a confidence; the others' getTrackingScore() answers -1.
SCORED = ("nano", "vit")


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


def models_folder(peer_models):
    return DEFAULT_PEER_MODELS if peer_models is None else os.fspath(peer_models)


def make_peer(name, peer_models=None):
    """Build OpenCV tracker `name` (one of PEERS); raises PeerUnavailable if it cannot be built here."""
    folder = models_folder(peer_models)
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
