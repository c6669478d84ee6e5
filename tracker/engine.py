"""What runs the network when tracking (`tracking.engine`): ONNX Runtime on graphs exported once and
cached, or torch (torch_engine.py, also what exports the graphs).

Either engine gives the tracker three things: exemplar(crop) -> a target's kernel, from its
exemplar crop; score_maps(crops, kernels) -> the response logits (N, n, n) of a stack of HWC uint8
search crops, each against its own kernel (several targets' crops go through in one batch); and
upsample(map) -> the map resized by tracking.response_up. This module imports no torch: with the
graphs in the cache, the tracker starts without it (torch's import alone takes ~2.5 s).
"""

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import UserError
from .fileio import cache_dir, read_verified, write_verified

ENGINES = ("onnxruntime", "torch")
UNUSED_DAYS = 30  # cached graphs not read for this long are removed when new ones are written
# What the graphs compute is written in these files: a change to them is a new cache key.
EXPORT_SOURCES = ("torch_engine.py", "model.py")


def search_shapes(tracking):
    """The stacks of search crops (N, H, W, 3) that update() sends through the network: "scales"
    (all scales, or with two passes the centre scale), "side" (the side scales of the second pass)
    and "tile" (a re-detection tile, one search region); None where the tracking parameters use none."""
    n, size = tracking["scale_num"], tracking["instance_size"]
    side = tracking["side_size"] or size
    two_pass = side < size and n > 1
    return {
        "scales": (1 if two_pass else n, size, size, 3),
        "side": (n - 1, side, side, 3) if two_pass else None,
        "tile": (1, size, size, 3) if tracking["redetect"] else None,
    }


def search_graphs(tracking):
    """The search graphs for these tracking parameters, name -> crop size: one per size, each taking
    stacks of any number of crops."""
    sizes = {shape[1] for shape in search_shapes(tracking).values() if shape}
    return {f"search_{size}": size for size in sorted(sizes)}


def graph_names(tracking):
    return ["exemplar", "upsample", *search_graphs(tracking)]


def needs(package):
    # Imported only where used, so that the torch engine runs without them.
    if importlib.util.find_spec(package) is None:
        raise UserError(
            f"the onnxruntime engine needs the {package} package, which is not installed; "
            "pip install onnxruntime onnx, or set tracking.engine: torch in the config"
        )


def onnx_session(graph, threads, **options):
    """An ONNX Runtime CPU session of `graph` (bytes) on `threads` threads (0: one per core), with any
    other SessionOptions attributes given."""
    needs("onnxruntime")
    try:
        import onnxruntime
    except ImportError as e:
        # ONNX Runtime turns a Ctrl-C during its own import into "ImportError: initialization failed".
        if isinstance(e.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise UserError(
            f"onnxruntime is installed but does not import ({e}); reinstall it (pip install --force-reinstall "
            "onnxruntime), or set tracking.engine: torch in the config"
        ) from None

    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    for name, value in options.items():
        setattr(settings, name, value)
    return onnxruntime.InferenceSession(graph, settings, providers=["CPUExecutionProvider"])


class OnnxEngine:
    """The network's graphs (torch_engine.export_graphs: name -> ONNX bytes) on ONNX Runtime's CPU
    threads; on one of them ONNX Runtime runs the search branch ~1.5x as fast as torch (it lays
    channels out in blocks and fuses each convolution with its ReLU).

    With `threads` above 1 (0: one per core), a stack of several crops is split into as many parts,
    each run on one thread at the same time: ONNX Runtime's own threads share out every layer and
    wait for each other after it (4 targets on 2 cores: 17.1 fps, against 19.4 on one thread), where
    two parts of four 255 px crops at once take 0.55 of one thread's time. A single crop runs on
    `threads`."""

    def __init__(self, graphs, threads):
        self.graphs = graphs
        # The upsampling is too small to split: a second thread would only wait for the first.
        sessions = {name: onnx_session(graph, 1 if name == "upsample" else threads) for name, graph in graphs.items()}
        self._exemplar, self._upsample = sessions.pop("exemplar"), sessions.pop("upsample")
        self._search = {s.get_inputs()[0].shape[1]: s for s in sessions.values()}  # by crop size
        self._parts = threads or os.cpu_count() or 1
        self._one_thread, self._pool = {}, None
        if self._parts > 1:
            one = (onnx_session(graphs[name], 1) for name in sessions)
            self._one_thread = {s.get_inputs()[0].shape[1]: s for s in one}
            self._pool = ThreadPoolExecutor(self._parts - 1)

    def exemplar(self, crop):
        return self._exemplar.run(None, {"crop": crop[None]})

    def score_maps(self, crops, kernels):
        size, parts = crops.shape[1], min(self._parts, len(crops))
        if parts < 2:
            return self._search[size].run(None, self.inputs(crops, kernels))[0]
        run = self._one_thread[size].run  # one session may run on several threads at once
        ends = np.linspace(0, len(crops), parts + 1).astype(int)
        jobs = [self.inputs(crops[a:b], kernels[a:b]) for a, b in zip(ends[:-1], ends[1:])]
        rest = [self._pool.submit(run, None, job) for job in jobs[1:]]
        return np.concatenate([run(None, jobs[0])[0], *(f.result()[0] for f in rest)])

    @staticmethod
    def inputs(crops, kernels):
        """The search graphs' inputs: the crops, and each crop's kernel and bias."""
        kernel, bias = (np.concatenate(parts) for parts in zip(*kernels))
        return {"crops": crops, "kernel": kernel, "bias": bias}

    def upsample(self, response):
        return self._upsample.run(None, {"response": response})[0]


def file_digest(path):
    """sha256 of a file's bytes, or None if it can't be read."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def graph_key(params, weights_digest):
    """The cache key of the graphs exported from weights with `weights_digest` for `params`: it
    covers all the export depends on (the model, the crop sizes, the upsampling, the code that
    builds the graphs, torch's and onnx's versions), and is computed without importing either."""
    here = os.path.dirname(os.path.abspath(__file__))
    tracking = params["tracking"]
    sizes = tracking["exemplar_size"], tracking["response_up"], graph_names(tracking)
    versions = [importlib.metadata.version(name) for name in ("torch", "onnx")]
    key = hashlib.sha256(repr((params["model"], sizes, versions, weights_digest)).encode())
    for name in EXPORT_SOURCES:
        with open(os.path.join(here, name), "rb") as f:
            key.update(f.read())
    return key.hexdigest()


def _graph_path(key, name):
    return cache_dir("onnx", f"{key}-{name}.onnx")


def read_graphs(key, tracking):
    """The graphs cached under `key` for `tracking` (name -> bytes), or None if any is missing or
    damaged: then all are exported anew. Graphs read are marked used now (see write_graphs)."""
    paths = {name: _graph_path(key, name) for name in graph_names(tracking)}
    graphs = {name: read_verified(path) for name, path in paths.items()}
    if None in graphs.values():
        return None
    for path in paths.values():
        with contextlib.suppress(OSError):
            os.utime(path)
    return graphs


def write_graphs(key, graphs):
    """Cache `graphs` under `key`, and remove the graphs no start has used for UNUSED_DAYS (those of
    older weights, configs or versions)."""
    for name, graph in graphs.items():
        with contextlib.suppress(UserError, OSError):  # a cache that can't be written only costs time
            write_verified(_graph_path(key, name), graph)
    folder = cache_dir("onnx")
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".onnx") and time.time() - entry.stat().st_mtime > UNUSED_DAYS * 86400:
                os.remove(entry.path)
