"""Weight files: the state dict together with the model config it belongs to, and a checksum of both."""

import hashlib
import io
import json
import os

import torch

from .config import resolve_weights
from .errors import UserError
from .fileio import atomic_write
from .model import SiamFC


def checksum(blob):
    """sha256 of a weights dict's model config, meta and every tensor's name, type, shape and bytes:
    torch.load does not notice a changed byte inside a tensor, and such weights track garbage."""
    h = hashlib.sha256(json.dumps([blob["model"], blob["meta"]], sort_keys=True, default=str).encode())
    for name, tensor in sorted(blob["state_dict"].items()):
        h.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def save(path, net, model_cfg, meta=None):
    blob = {
        "model": dict(model_cfg),
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
        "meta": meta or {},
    }
    blob["sha256"] = checksum(blob)
    buf = io.BytesIO()  # torch.save to a file turns a full disk into a RuntimeError; f.write keeps it an OSError
    torch.save(blob, buf)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def load(path, model_cfg=None):
    """The network stored at `path`; `model_cfg`, if given, must match the one it was trained with."""
    path = resolve_weights(path)
    if not path or not os.path.isfile(path):
        raise UserError(
            f"weights file not found: {path}; pass --weights FILE or train one with 'python run_tracker.py train'"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        stored = blob["model"]
        expected = blob.get("sha256")  # None in files from before there was one
        intact = expected is None or expected == checksum(blob)
        net = SiamFC(**stored)
        net.load_state_dict(blob["state_dict"])
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise UserError(
            f"weights file {path} is corrupt, truncated or not a weights file "
            f"({type(e).__name__}); restore it or retrain"
        ) from None
    if not intact:
        raise UserError(f"weights file {path} is corrupt (checksum mismatch); restore it or retrain")
    if model_cfg is not None and dict(model_cfg) != stored:
        raise UserError(
            f"weights file {path} was trained for model {stored}, but the config asks for "
            f"{dict(model_cfg)}; use matching --weights or --config"
        )
    return net, blob.get("meta", {})
