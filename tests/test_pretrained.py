"""The TFLite reader and the MobileNetV1 backbone started from what it reads."""

import json
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tracker.errors import UserError
from tracker.model import SiamFC, load_mobilenet_v1, mobilenet_v1, mobilenet_v1_deep
from tracker.train import param_groups

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
MODELS = os.path.join(SHARED, "models")
V1_05 = os.path.join(MODELS, "mobilenet_v1_0.5_160_quant.tflite")
V1_075 = os.path.join(MODELS, "mobilenet_v1_0.75_192_quant.tflite")
DOGS = os.path.join(SHARED, "data", "images", "Dog_YoloV4dog")

pretrained = pytest.importorskip("tracker.pretrained")
pytest.importorskip("tflite", reason="the train extra's tflite package reads the pretrained files")
needs_models = pytest.mark.skipif(not os.path.isfile(V1_05), reason="../shared/models is not here")


@pytest.fixture(scope="module")
def v1_05():
    return pretrained.read_convolutions(V1_05)


def file_network(layers, rgb, n):
    """The file's network as TensorFlow runs it (SAME padding, ReLU6), through its first n convolutions."""
    x = rgb / 127.5 - 1
    for layer in layers[:n]:
        w, stride = layer["weight"], layer["stride"]
        groups = w.shape[0] if layer["depthwise"] else 1
        x = F.conv2d(pretrained.same_pad(x, w.shape[-1], stride), w, layer["bias"], stride, groups=groups).clamp(0, 6)
    return x


@needs_models
@pytest.mark.parametrize("path, size, least", [(V1_05, 160, 7), (V1_075, 192, 8)])
@pytest.mark.skipif(not os.path.isdir(DOGS), reason="../shared/data/images is not here")
def test_the_classifier_read_from_the_file_sees_dogs(path, size, least):
    # The first 8 dog boxes of the still images, each resized to the classifier's input: ImageNet's
    # dog breeds are its classes 152-269 (0 is "background"). MobileNetV1-0.5 calls one a tennis ball.
    layers = pretrained.read_convolutions(path)
    with open(os.path.join(DOGS, "annotations.json")) as f:
        annotations = json.load(f)[:8]
    crops = []
    for a in annotations:
        x, y, w, h = (int(v) for v in a["boxes"][0])
        img = cv2.imread(os.path.join(DOGS, a["file"]))[y : y + h, x : x + w, ::-1]
        crops.append(cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=cv2.INTER_AREA))
    rgb = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    top1 = pretrained.classify(layers, rgb).argmax(1).numpy()
    assert ((top1 >= 152) & (top1 <= 269)).sum() >= least, top1


@needs_models
def test_the_file_holds_mobilenet_v1_at_half_width(v1_05):
    assert len(v1_05) == 28  # the first convolution, 13 depthwise-pointwise blocks, the logits
    assert [tuple(c["weight"].shape) for c in v1_05[:3]] == [(16, 3, 3, 3), (16, 1, 3, 3), (32, 16, 1, 1)]
    assert [c["stride"] for c in v1_05[1:14:2]] == [1, 2, 1, 2, 1, 2, 1]  # depthwise 1-7
    assert tuple(v1_05[-1]["weight"].shape) == (1001, 512, 1, 1)


@needs_models
def test_the_unpadded_dilated_backbone_computes_what_the_file_does(v1_05):
    """Away from the borders our backbone (no padding, BGR in [0, 255], block 6 at stride 1 and
    block 7 dilated) equals the file's network (SAME padding, RGB in [-1, 1], stride 16 from block 6)
    at every second position: the pretrained features, at twice the resolution.

    The offsets follow from the layers: a 2 px shift of the input puts each of our stride-2
    sampling grids on TensorFlow's, and 2 of its block-7 positions are lost to our missing padding.
    """
    net = mobilenet_v1(0.5).eval()
    load_mobilenet_v1(net, v1_05)
    rgb = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * 255
    theirs = file_network(v1_05, rgb, 15)  # 14x14 at stride 16
    with torch.no_grad():
        ours = net[:-2](rgb.flip(1)[:, :, 2:, 2:])  # 17x17 at stride 8, before the adjust layer
    assert ours.shape[-2:] == (17, 17) and theirs.shape[-2:] == (14, 14)
    torch.testing.assert_close(ours[..., ::2, ::2], theirs[..., 2:11, 2:11], atol=1e-4, rtol=1e-4)
    # and off that grid it is no copy of it: these are new positions
    assert (ours[..., 1::2, 1::2][..., :8, :8] - theirs[..., 2:10, 2:10]).abs().max() > 0.1


@needs_models
def test_the_deep_backbone_computes_what_the_file_does_inside(v1_05):
    """mobilenet_v1_deep's blocks 8 and 9, dilated and padded, equal the file's blocks 8 and 9 (at
    stride 16) at every second position, where neither network's padding reaches: each block reaches
    one of the file's cells, two of ours, further."""
    net = mobilenet_v1_deep(0.5).eval()
    load_mobilenet_v1(net, v1_05)
    rgb = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)) * 255
    theirs = file_network(v1_05, rgb, 19)  # 14x14 at stride 16
    with torch.no_grad():
        ours = net[:-2](rgb.flip(1)[:, :, 2:, 2:])  # 17x17 at stride 8: the padded blocks keep the size
    assert ours.shape[-2:] == (17, 17) and theirs.shape[-2:] == (14, 14)
    torch.testing.assert_close(ours[..., 4:-4:2, 4:-4:2], theirs[..., 4:9, 4:9], atol=1e-4, rtol=1e-4)
    # and at the border, padding ours where the file's has pixels, they differ
    assert (ours[..., 0, ::2] - theirs[..., 2, 2:11]).abs().max() > 0.1


def test_backbone_sizes_and_stride():
    net = SiamFC("mobilenet_v1", 0.5).eval()
    with torch.no_grad():
        z = net.embed(torch.zeros(1, 3, 127, 127))
        x = net.embed(torch.zeros(1, 3, 255, 255))
        x2 = net.embed(torch.zeros(1, 3, 263, 263))
    assert z.shape == (1, 256, 5, 5) and x.shape == (1, 256, 21, 21)
    assert x2.shape[-1] == 22  # 8 more pixels, one more position: total stride 8
    assert net(torch.zeros(2, 3, 127, 127), torch.zeros(2, 3, 255, 255)).shape == (2, 1, 17, 17)
    deep = SiamFC("mobilenet_v1_deep", 0.5).eval()
    assert deep(torch.zeros(1, 3, 127, 127), torch.zeros(1, 3, 255, 255)).shape == (1, 1, 17, 17)


def test_weights_that_do_not_fit_are_refused():
    layers = [{"weight": torch.zeros(8, 3, 3, 3), "bias": torch.zeros(8)}]
    with pytest.raises(ValueError, match="model.width"):
        load_mobilenet_v1(mobilenet_v1(0.5), layers)


def test_frozen_convolutions_keep_their_weights_and_the_head_learns_fastest():
    torch.manual_seed(0)
    net = SiamFC("mobilenet_v1", 0.25)
    groups = param_groups(net, 9, 0.1)
    assert [g["lr_factor"] for g in groups] == [0.1, 1.0]
    convs = [m for m in net.backbone if isinstance(m, torch.nn.Conv2d)]
    before = [m.weight.detach().clone() for m in convs]
    opt = torch.optim.SGD([{"params": g["params"], "lr": 0.1} for g in groups])
    net(torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255).mean().backward()
    opt.step()
    moved = [not torch.equal(b, m.weight) for b, m in zip(before, convs)]
    assert moved == [False] * 9 + [True] * (len(convs) - 9)
    assert all(m.weight.grad is None for m in convs[:9])  # no gradient computed through them at all
    with pytest.raises(UserError, match="freeze_convs"):
        param_groups(SiamFC("mobilenet_v1", 0.25), len(convs), 1.0)


def test_missing_or_foreign_files_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        pretrained.read_convolutions(str(tmp_path / "none.tflite"))
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="bad.tflite"):
        pretrained.read_convolutions(str(bad))
