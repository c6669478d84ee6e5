"""Our tracker from files (a config, its weights, a device) or from a network in memory."""

from collections.abc import Callable

from .config import check_rules, resolve_weights
from .engine import OnnxEngine, file_digest, graph_key, needs, read_graphs
from .errors import UserError
from .params import RULES, load_params
from .siamfc import SiamFCMultiTracker, SiamFCTracker


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
    subclass of SiamFCTracker to build instead.

    On a CPU with the onnxruntime engine, a tracker built before from the same files starts from
    the cached graphs, without importing torch."""
    params = tracker_params(config, tracking)
    return cls(build_engine(params, weights, device), params)


def build_multi_tracker(
    config: str | None = None,
    weights: str | None = None,
    device: str = "cpu",
    tracking: dict | None = None,
    cls: type[SiamFCTracker] = SiamFCTracker,
) -> SiamFCMultiTracker:
    """build_tracker's tracker for several targets at once (init with a list of boxes)."""
    return multi_tracker_maker(config, weights, device, tracking, cls)()


def multi_tracker_maker(
    config: str | None = None,
    weights: str | None = None,
    device: str = "cpu",
    tracking: dict | None = None,
    cls: type[SiamFCTracker] = SiamFCTracker,
) -> Callable[[], SiamFCMultiTracker]:
    """A function that makes build_multi_tracker's trackers, each with its own targets, all on one
    network engine built now: a server's jobs then share its ~20 MB of sessions and graphs."""
    params = tracker_params(config, tracking)
    engine = build_engine(params, weights, device)
    return lambda: SiamFCMultiTracker(engine, params, cls)


def tracker_params(config, tracking):
    params = load_params(config)
    params["tracking"].update(tracking or {})
    check_rules(params, RULES, "the tracking parameters")
    return params


def build_engine(params, weights=None, device="cpu"):
    """What runs the network of `params` with its weights or `weights` (see engine.py): from the
    graphs cached for these files when there are some, else made from the weights."""
    path = resolve_weights(weights or params["weights"])
    key = None
    if params["tracking"]["engine"] == "onnxruntime" and device == "cpu":
        needs("onnxruntime")
        digest = file_digest(path)
        key = digest and graph_key(params, digest)
        graphs = key and read_graphs(key, params["tracking"])
        if graphs:  # the weights were checked, and fit the input sizes, when the graphs were made
            return OnnxEngine(graphs, params["tracking"]["threads"])
    from . import weights as weights_io  # torch, imported only here

    net, meta = weights_io.load(path, params["model"])
    check_input_sizes(meta, params["tracking"], path)
    return engine_from_net(net, params, device, key)


def tracker_from_net(net, params, device="cpu", cls=SiamFCTracker):
    """A tracker (of class `cls`) with `params` on `net`, e.g. one being trained."""
    check_rules(params, RULES, "the tracking parameters")  # set in code: checked before the engine is made
    return cls(engine_from_net(net, params, device), params)


def engine_from_net(net, params, device="cpu", key=None):
    """What runs `net` for the tracking parameters (checked already), its ONNX graphs cached under
    `key` (see torch_engine.make_engine)."""
    import torch

    from .torch_engine import TorchEngine, make_engine

    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    engine = make_engine(net, params, device, key)
    if isinstance(engine, TorchEngine):
        engine.claim_threads()
    return engine
