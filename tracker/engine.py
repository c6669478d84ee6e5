"""What runs the search branch when tracking (`tracking.engine`): ONNX Runtime or torch.

Both take a stack of HWC uint8 crops and give the (N, C, h, w) float features as a torch tensor, in
the channels_last layout that xcorr_one's matrix product reads without a copy.
On a CPU thread ONNX Runtime runs the light backbone's search branch about twice as fast as torch
(it lays channels out in blocks and fuses each convolution with its ReLU); torch runs it on a GPU.
"""

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError
from .fileio import cache_dir, read_verified, write_verified
from .model import plain_layers, run_layers

ENGINES = ("onnxruntime", "torch")


def crops_as_input(crops, device):
    """A stack of HWC uint8 crops as network input: seen as NCHW they are channels_last, no copy."""
    return torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float()


class TorchSearch:
    def __init__(self, net, device):
        self.layers, self.device = plain_layers(net), device

    def __call__(self, crops):
        with torch.inference_mode():
            return run_layers(self.layers, crops_as_input(crops, self.device))


class _FromCrops(nn.Module):
    """The network on uint8 HWC crops as they are warped, channels_last out, so that ONNX Runtime
    does crops_as_input's work too. Its first convolution reads the interleaved channels in place:
    a (kh, kw) kernel over c channels at stride (sh, sw) is a (kh, c kw) kernel at stride (sh, c sw)
    over the crop seen as one channel c times as wide, with no layout change (3% of the fps)."""

    def __init__(self, net):
        super().__init__()
        first, self.rest = net[0], net[1:]
        if first.padding != (0, 0) or first.dilation != (1, 1) or first.groups != 1:
            raise ValueError("the first convolution must have no padding, dilation or groups")
        o, c, kh, kw = first.weight.shape
        self.weight = nn.Parameter(first.weight.detach().permute(0, 2, 3, 1).reshape(o, 1, kh, c * kw))
        self.bias = None if first.bias is None else nn.Parameter(first.bias.detach())
        self.stride = first.stride[0], c * first.stride[1]

    def forward(self, crops):
        n, h, w, c = crops.shape
        x = F.conv2d(crops.reshape(n, 1, h, w * c).float(), self.weight, self.bias, self.stride)
        return self.rest(x).permute(0, 2, 3, 1)


def needs(package):
    # Imported only here, so that the torch engine runs without them.
    if importlib.util.find_spec(package) is None:
        raise UserError(
            f"the onnxruntime engine needs the {package} package, which is not installed; "
            "pip install onnxruntime onnx, or set tracking.engine: torch in the config"
        )


def onnx_session(graph, threads, **options):
    """An ONNX Runtime CPU session of `graph` (bytes) on `threads` threads (0: one per core), with any
    other SessionOptions attributes given."""
    needs("onnxruntime")
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    for name, value in options.items():
        setattr(settings, name, value)
    return onnxruntime.InferenceSession(graph, settings, providers=["CPUExecutionProvider"])


class OnnxSearch:
    """The search branch on ONNX Runtime, for crop stacks of the given shapes (N, H, W, 3): a graph
    and a session for each, since with a fixed shape ONNX Runtime plans each run's memory once
    (2.7% of the fps against one graph for every shape)."""

    def __init__(self, net, threads, shapes):
        self.graphs = {tuple(shape): onnx_graph(_FromCrops(net), shape) for shape in shapes}
        self.sessions = {shape: onnx_session(graph, threads) for shape, graph in self.graphs.items()}

    def __call__(self, crops):
        return torch.from_numpy(self.sessions[crops.shape].run(None, {"crops": crops})[0]).permute(0, 3, 1, 2)


def onnx_graph(module, shape):
    """`module` exported to ONNX (bytes) for uint8 input of `shape`, from the cache when it was
    exported before: exporting takes seconds, reading the cached graph milliseconds.

    The cache key covers all the export depends on (weights, layers, shape, torch's and onnx's
    versions), and each file carries its own checksum: a stale or damaged graph is exported anew.
    """
    needs("onnx")  # torch's exporter writes with it
    versions = torch.__version__, importlib.metadata.version("onnx")  # importing onnx would take a second
    key = hashlib.sha256(repr((str(module), tuple(shape), versions)).encode())
    for tensor in module.state_dict().values():
        key.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    path = cache_dir("onnx", key.hexdigest() + ".onnx")
    graph = read_verified(path)
    if graph is None:
        buf = io.BytesIO()
        with warnings.catch_warnings():  # the exporter's notes on its own deprecations
            warnings.simplefilter("ignore")
            torch.onnx.export(module, torch.zeros(*shape, dtype=torch.uint8), buf, dynamo=False, input_names=["crops"])
        graph = buf.getvalue()
        with contextlib.suppress(UserError, OSError):  # a cache that can't be written only costs time
            write_verified(path, graph)
    return graph
