"""Our tracker from files: a config's parameters, its weights, a device, and torch's threads."""

import torch

from . import weights as weights_io
from .engine import TorchSearch
from .errors import UserError
from .params import load_params
from .siamfc import SiamFCTracker


def check_input_sizes(meta, tracking, path):
    """The network scores well only at the input sizes it was trained at (weights from before
    these were recorded were trained at SiamFC's 127 / 255 px)."""
    trained = meta.get("exemplar_size", 127), meta.get("instance_size", 255)
    asked = tracking["exemplar_size"], tracking["instance_size"]
    if trained != asked:
        raise UserError(
            f"weights file {path} was trained at exemplar/instance sizes {trained[0]}/{trained[1]} px, "
            f"but the config tracks at {asked[0]}/{asked[1]}; set tracking.exemplar_size and "
            "tracking.instance_size to match"
        )


def build_tracker(
    config: str | None = None,
    weights: str | None = None,
    device: str = "cpu",
    tracking: dict | None = None,
    cls: type[SiamFCTracker] = SiamFCTracker,
) -> SiamFCTracker:
    """The tracker a config (a file or a shipped config's name; None: the default) describes, with
    its weights or `weights`, and the `tracking` keys given (a dict) overriding its own. `cls`: a
    subclass of SiamFCTracker to build instead."""
    params = load_params(config)
    params["tracking"].update(tracking or {})
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    path = weights or params["weights"]
    net, meta = weights_io.load(path, params["model"])
    check_input_sizes(meta, params["tracking"], path)
    tracker = cls(net, params, device)
    claim_threads(tracker)
    return tracker


def claim_threads(tracker):
    """Set torch's thread count (process-wide) for `tracker`: the config's when torch runs the
    network; one beside ONNX Runtime, which has threads of its own, since torch's correlation and
    upsampling are too small to split and torch's idle threads would wait on the cores ONNX
    Runtime's are using (70 against 129 fps, interleaved on dev)."""
    threads = tracker.p["threads"] if isinstance(tracker.search, TorchSearch) else 1
    if threads > 0:
        torch.set_num_threads(threads)
