"""Weight files: the state dict together with the model config it belongs to."""
import os

import torch

from .errors import UserError
from .fileio import atomic_path
from .model import SiamFC

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def resolve(path):
    """A bare file name means one of the weights shipped in tracker/weights/."""
    if path and not os.path.exists(path) and os.path.dirname(path) == "":
        return os.path.join(WEIGHTS_DIR, path)
    return path


def save(path, net, model_cfg, meta=None):
    with atomic_path(path) as tmp:
        torch.save({"model": dict(model_cfg), "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}, "meta": meta or {}}, tmp)


def load(path, model_cfg=None):
    """The network stored at `path`; `model_cfg`, if given, must match the one it was trained with."""
    path = resolve(path)
    if not path or not os.path.isfile(path):
        raise UserError(f"weights file not found: {path}; pass --weights FILE or train one with "
                        "'python run_tracker.py train'")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        stored = blob["model"]
        net = SiamFC(**stored)
        net.load_state_dict(blob["state_dict"])
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise UserError(f"weights file {path} is corrupt, truncated or not a weights file "
                        f"({type(e).__name__}); restore it or retrain") from None
    if model_cfg is not None and dict(model_cfg) != stored:
        raise UserError(f"weights file {path} was trained for model {stored}, but the config asks for "
                        f"{dict(model_cfg)}; use matching --weights or --config")
    return net, blob.get("meta", {})
