"""The network for tracking as three torch modules (Exemplar, Search, Upsample): run by torch
(tracking.engine: torch, and on a GPU), or exported once to the ONNX graphs that engine.OnnxEngine
runs without torch."""

import copy
import hashlib
import io
import math
import warnings

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .architecture import response_sizes
from .engine import OnnxEngine, graph_key, needs, read_graphs, search_graphs, write_graphs
from .model import ends_in_pointwise, fuse_batchnorm, search_branch


def cubic_upsampler(n, size):
    """The (size, n) matrix A with A @ r @ A.T == cv2.resize(r, (size, size), INTER_CUBIC) for any
    n x n map r: resizing is linear and separable, and two small matrix products are ~2x faster
    than cv2's resize at 17 -> 273."""
    return cv2.resize(np.eye(n, dtype=np.float32), (n, size), interpolation=cv2.INTER_CUBIC)


class FromCrops(nn.Module):
    """A Sequential on uint8 HWC crops as they are warped, channels_last out. Its first convolution
    reads the interleaved channels in place: a (kh, kw) kernel over c channels at stride (sh, sw)
    is a (kh, c kw) kernel at stride (sh, c sw) over the crop seen as one channel c times as wide,
    with no layout change (3% of the fps)."""

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


class Exemplar(nn.Module):
    """The exemplar crop (1, z, z, 3) uint8 -> the kernel (1, 1, C, h w) and bias (1, 1, 1) that Search
    scores crops with: the embedding with SiamFC's output scale and the backbone's final 1x1 conv
    folded in. That conv is linear, so correlating the embedding z with (W x + b) equals
    correlating W^T z with x, plus the constant sum(z b): the search branch stops one layer early."""

    def __init__(self, net):
        super().__init__()
        self.embed = FromCrops(net.backbone)
        self.last = net.backbone[-1] if ends_in_pointwise(net.backbone) else None
        self.out_scale, self.out_bias = net.out_scale, net.out_bias

    def forward(self, crop):
        z = self.embed(crop).flatten(0, 2)  # (h w, channels)
        bias = self.out_bias
        if self.last is not None:
            if self.last.bias is not None:
                bias = bias + self.out_scale * (z.sum(0) * self.last.bias).sum()
            z = z @ self.last.weight[:, :, 0, 0]
        return (z.T * self.out_scale)[None, None], bias.reshape(1, 1, 1)


class Search(nn.Module):
    """A stack of search crops (N, H, W, 3) uint8 and a kernel and bias from Exemplar for each
    (stacked: (N, 1, C, h w) and (N, 1, 1)) -> the response logits (N, n, n). Every search
    position's features times every exemplar tap is one batched matrix product; each response
    cell then sums the tap planes, each shifted by its tap's offset, which is a convolution with a
    fixed one-hot kernel. (With the exemplar as a convolution's weights ONNX Runtime ran 30%
    slower; as xcorr's grouped convolution, torch ~10x slower.)"""

    def __init__(self, net, side):
        super().__init__()
        self.features = FromCrops(search_branch(net.backbone))
        taps = torch.arange(side * side)
        shift = torch.zeros(1, side * side, side, side)
        shift[0, taps, taps // side, taps % side] = 1
        self.register_buffer("shift", shift)

    def forward(self, crops, kernel, bias):
        taps = (self.features(crops) @ kernel).permute(0, 3, 1, 2)
        return F.conv2d(taps, self.shift)[:, 0] + bias


class Upsample(nn.Module):
    """A response map (n, n) resized bicubically to (size, size)."""

    def __init__(self, n, size):
        super().__init__()
        self.register_buffer("a", torch.from_numpy(cubic_upsampler(n, size)))

    def forward(self, response):
        return self.a @ response @ self.a.T


def tracking_modules(net, tracking):
    """Exemplar, Search and Upsample for the tracking parameters, on a copy of `net` with its
    BatchNorms folded in."""
    net = fuse_batchnorm(copy.deepcopy(net).eval())
    exemplar = Exemplar(net)
    z = tracking["exemplar_size"]
    with torch.no_grad():
        kernel, _ = exemplar(torch.zeros(1, z, z, 3, dtype=torch.uint8))
    return exemplar, Search(net, math.isqrt(kernel.shape[-1])), Upsample(*response_sizes(tracking))


class TorchEngine:
    """The tracking modules run by torch on `device` (the upsampling on the CPU, where the rest of
    the tracking step runs), on `threads` threads (0: torch's default)."""

    def __init__(self, modules, device, threads):
        self.device = torch.device(device)
        # channels_last: the layout CPU convolutions run fastest in.
        exemplar, search, self.upsampler = modules
        self._exemplar, self.search = (m.to(self.device, memory_format=torch.channels_last) for m in (exemplar, search))
        self.threads = threads

    def claim_threads(self):
        """Set torch's thread count, which is process-wide, to this engine's."""
        if self.threads > 0:
            torch.set_num_threads(self.threads)

    def exemplar(self, crop):
        with torch.inference_mode():
            return self._exemplar(torch.from_numpy(crop[None]).to(self.device))

    def score_maps(self, crops, kernels):
        kernel, bias = (torch.cat(parts) for parts in zip(*kernels))
        with torch.inference_mode():
            return self.search(torch.from_numpy(crops).to(self.device), kernel, bias).cpu().numpy()

    def upsample(self, response):
        with torch.inference_mode():
            return self.upsampler(torch.from_numpy(response)).numpy()


def tensors_digest(net):
    h = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def export_graphs(modules, tracking):
    """The tracking modules as ONNX graphs (name -> bytes), the search one for each crop shape."""
    needs("onnx")  # torch's exporter writes with it
    exemplar, search, upsample = modules
    z = tracking["exemplar_size"]
    crop = torch.zeros(1, z, z, 3, dtype=torch.uint8)
    with torch.no_grad():
        kernel, bias = exemplar(crop)
    n, _ = response_sizes(tracking)
    graphs = {
        "exemplar": _export(exemplar, (crop,), ["crop"]),
        "upsample": _export(upsample, (torch.zeros(n, n),), ["response"]),
    }
    names = ["crops", "kernel", "bias"]
    for name, size in search_graphs(tracking).items():
        crops = torch.zeros(2, size, size, 3, dtype=torch.uint8)
        # Any number of crops, for several targets at once; a fixed count measured no faster.
        graphs[name] = _export(search, (crops, kernel.expand(2, -1, -1, -1), bias.expand(2, -1, -1)), names, batch=True)
    return graphs


def _export(module, inputs, names, batch=False):
    buf = io.BytesIO()
    dynamic = {name: {0: "n"} for name in names} if batch else None
    with warnings.catch_warnings():  # the exporter's notes on its own deprecations
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, buf, dynamo=False, input_names=names, dynamic_axes=dynamic)
    return buf.getvalue()


def make_engine(net, params, device="cpu", key=None):
    """The engine that the tracking parameters ask for, running `net`: ONNX Runtime on a CPU, on the
    graphs cached under `key` (by default one made from net's tensors) or exported now and cached;
    otherwise torch on `device`."""
    tracking = params["tracking"]
    if tracking["engine"] != "onnxruntime" or torch.device(device).type != "cpu":
        return TorchEngine(tracking_modules(net, tracking), device, tracking["threads"])
    needs("onnxruntime")
    key = key or graph_key(params, tensors_digest(net))
    graphs = read_graphs(key, tracking)
    if graphs is None:
        graphs = export_graphs(tracking_modules(net, tracking), tracking)
        write_graphs(key, graphs)
    return OnnxEngine(graphs, tracking["threads"])
