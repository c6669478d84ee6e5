"""ImageNet-pretrained MobileNetV1 weights read from a TensorFlow Lite file, to start a backbone from.

Only training needs this (and the `tflite` package, the `train` extra): the weights it derives are
saved in the project's own .pt files, which the tracker loads without it.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError

# TFLite tensor types this reader meets in quantised classifiers, as numpy types.
_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}


def _tensor(model, graph, index):
    """A constant tensor of the file as float32, dequantised as scale * (q - zero_point) (per tensor
    or per channel along its quantised dimension)."""
    t = graph.Tensors(index)
    data = model.Buffers(t.Buffer()).DataAsNumpy().view(_TYPES[t.Type()]).reshape(t.ShapeAsNumpy())
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return data.astype(np.float32)
    shape = [1] * data.ndim
    if q.ScaleLength() > 1:
        shape[q.QuantizedDimension()] = -1
    scale = q.ScaleAsNumpy().reshape(shape)
    zero = q.ZeroPointAsNumpy().reshape(shape) if q.ZeroPointLength() else 0
    return (scale * (data.astype(np.float64) - zero)).astype(np.float32)


def read_convolutions(path):
    """Every convolution of a TFLite MobileNet, in order: dicts of `weight` (torch's OIHW; a
    depthwise one as (C, 1, kh, kw)), `bias`, `stride` and `depthwise`."""
    try:
        import tflite
    except ImportError:
        raise UserError('reading a .tflite file needs the tflite package; pip install -e ".[train]"') from None
    if not os.path.isfile(path):
        raise UserError(f"pretrained file not found: {path}; see ../shared/models/README.md")
    with open(path, "rb") as f:
        buf = f.read()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
        layers = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            kind = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if kind not in (tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.DEPTHWISE_CONV_2D):
                continue
            depthwise = kind == tflite.BuiltinOperator.DEPTHWISE_CONV_2D
            options = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
            options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            w = _tensor(model, graph, op.Inputs(1))  # OHWI; depthwise: 1HWC
            w = w.transpose(3, 0, 1, 2) if depthwise else w.transpose(0, 3, 1, 2)
            layers.append(
                {
                    "weight": torch.from_numpy(np.ascontiguousarray(w)),
                    "bias": torch.from_numpy(_tensor(model, graph, op.Inputs(2))),
                    "stride": options.StrideH(),
                    "depthwise": depthwise,
                }
            )
    except Exception as e:  # a flatbuffer of another schema fails in many ways
        raise UserError(f"{path} is not a TFLite MobileNet this reader understands ({type(e).__name__})") from None
    if not layers:
        raise UserError(f"{path} holds no convolutions; expected a TFLite MobileNetV1 classifier")
    return layers


def same_pad(x, k, stride):
    """TensorFlow's 'SAME' padding: the extra pixel of an uneven total goes to the bottom/right."""
    h, w = x.shape[-2:]
    ph = max((-(-h // stride) - 1) * stride + k - h, 0)
    pw = max((-(-w // stride) - 1) * stride + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def classify(layers, rgb):
    """The classifier's logits (N, 1001) for RGB images (N, 3, H, W) in [0, 255], computed as the
    file defines it (SAME padding, ReLU6, global average pool, 1x1 logits): a check of the reading."""
    x = rgb / 127.5 - 1
    for layer in layers[:-1]:
        w = layer["weight"]
        groups = w.shape[0] if layer["depthwise"] else 1
        x = F.conv2d(same_pad(x, w.shape[-1], layer["stride"]), w, layer["bias"], layer["stride"], groups=groups)
        x = x.clamp(0, 6)
    x = x.mean((2, 3), keepdim=True)
    return F.conv2d(x, layers[-1]["weight"], layers[-1]["bias"]).flatten(1)
