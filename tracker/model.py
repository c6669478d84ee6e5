"""The siamese network: one backbone for both branches, a cross-correlation head."""

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import BACKBONES as BACKBONE_NAMES


def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


def alexnet(width=1.0):
    """SiamFC's AlexNet (Bertinetto et al. 2016): 127 px -> 6x6, 255 px -> 22x22."""
    c = [int(round(n * width)) for n in (96, 256, 384, 384, 256)]
    return nn.Sequential(
        *conv_bn(3, c[0], 11, 2),
        nn.MaxPool2d(3, 2),
        *conv_bn(c[0], c[1], 5, groups=2),
        nn.MaxPool2d(3, 2),
        *conv_bn(c[1], c[2], 3),
        *conv_bn(c[2], c[3], 3, groups=2),
        nn.Conv2d(c[3], c[4], 3, groups=2),
    )


def separable(cin, cout, stride=1):
    return conv_bn(cin, cin, 3, stride, groups=cin, relu=False) + conv_bn(cin, cout, 1)


def light(width=1.0):
    """Depthwise-separable backbone for real time on a CPU: 127 px -> 8x8, 255 px -> 24x24.

    No padding anywhere, as in SiamFC: padding would let the score depend on the position in the
    search region rather than on appearance alone.
    """
    c = [int(round(n * width)) for n in (24, 48, 96, 128)]
    return nn.Sequential(
        *conv_bn(3, c[0], 3, 2),
        *separable(c[0], c[1], 2),
        *separable(c[1], c[1]),
        *separable(c[1], c[2], 2),
        *separable(c[2], c[2]),
        *separable(c[2], c[3]),
        *separable(c[3], c[3]),
        nn.Conv2d(c[3], c[3], 1),
    )


# MobileNetV1's blocks after its first convolution (Howard et al. 2017), as (channels at width 1,
# stride, dilation): the first six, then the stride-16 blocks with their sampling kept by dilation
# rather than by striding, so that the backbone stays at total stride 8.
MOBILENET_V1_BLOCKS = ((64, 1, 1), (128, 2, 1), (128, 1, 1), (256, 2, 1), (256, 1, 1), (512, 1, 1)) + ((512, 1, 2),) * 3
UNPADDED_BLOCKS = 7  # mobilenet_v1's blocks; mobilenet_v1_deep's further ones are padded


def mobilenet_v1(width=0.5, blocks=UNPADDED_BLOCKS):
    """MobileNetV1's first `blocks` blocks, then a 1x1 adjust layer learnt for matching: 127 px ->
    5x5, 255 px -> 21x21; with the first seven, unpadded, the receptive field is 91 px (SiamFC's
    AlexNet: 87).

    The convolutions take the pretrained weights (load_mobilenet_v1); the sixth block keeps stride
    1 (its 1x1 convolution sees every position the original saw, and more), so the later blocks'
    3x3 taps are dilated by 2 to sample what they were trained on. Blocks after the seventh pad by
    their dilation and keep the size: unpadded, each would take 4 cells off the 5x5 exemplar.
    """
    c = int(32 * width)
    layers = [nn.Conv2d(3, c, 3, 2), nn.ReLU6(inplace=True)]
    for i, (cout, stride, dilation) in enumerate(MOBILENET_V1_BLOCKS[:blocks]):
        cout = int(cout * width)
        padding = dilation if i >= UNPADDED_BLOCKS else 0
        layers += [
            nn.Conv2d(c, c, 3, stride, padding, dilation, groups=c),
            nn.ReLU6(inplace=True),
            nn.Conv2d(c, cout, 1),
            nn.ReLU6(inplace=True),
        ]
        c = cout
    return nn.Sequential(*layers, *conv_bn(c, c, 1, relu=False))


def mobilenet_v1_deep(width=0.5):
    """mobilenet_v1 with two more of MobileNetV1's blocks, dilated and padded: receptive field 155
    px, more of what ImageNet taught, 0.483 against 0.336 GFLOP a tracked frame."""
    return mobilenet_v1(width, blocks=UNPADDED_BLOCKS + 2)


def load_mobilenet_v1(backbone, convolutions):
    """Copy a classifier's convolutions (pretrained.read_convolutions) into a mobilenet_v1 backbone,
    all but its adjust layer, folding the classifier's input scaling (RGB in [-1, 1]) into the first
    convolution so that the backbone takes BGR in [0, 255] like every other one here."""
    convs = [m for m in backbone if isinstance(m, nn.Conv2d)][:-1]
    if len(convolutions) < len(convs) or any(m.weight.shape != c["weight"].shape for m, c in zip(convs, convolutions)):
        raise ValueError("the pretrained file's layers do not fit this backbone; check model.width")
    with torch.no_grad():
        for m, c in zip(convs, convolutions):
            m.weight.copy_(c["weight"])
            m.bias.copy_(c["bias"])
        first = convs[0]
        w = convolutions[0]["weight"]
        first.weight.copy_(w.flip(1) / 127.5)
        first.bias.copy_(convolutions[0]["bias"] - w.sum((1, 2, 3)))


BACKBONES = {name: globals()[name] for name in BACKBONE_NAMES}


def xcorr(z, x):
    """Correlate each exemplar embedding with its search embedding(s) in one grouped conv.

    z: (1 or B, C, h, w), x: (B, C, H, W) -> (B, 1, H-h+1, W-w+1).
    """
    b, c, hx, wx = x.shape
    z = z.expand(b, -1, -1, -1)
    out = F.conv2d(x.reshape(1, b * c, hx, wx), z, groups=b)
    return out.reshape(b, 1, out.shape[-2], out.shape[-1])


def ends_in_pointwise(backbone):
    last = backbone[-1]
    return isinstance(last, nn.Conv2d) and last.kernel_size == (1, 1) and last.stride == (1, 1) and last.groups == 1


def search_branch(backbone):
    """What search crops run through when tracking: the backbone less a final 1x1 conv, which
    fold_last_conv folds into the exemplar kernel instead."""
    return backbone[:-1] if ends_in_pointwise(backbone) else backbone


class SiamFC(nn.Module):
    def __init__(self, backbone="light", width=1.0):
        super().__init__()
        self.backbone = BACKBONES[backbone](width)
        # SiamFC's output adjustment: raw correlations are in the thousands; a fixed scale and a
        # learnt bias make them logits. A learnt scale would take huge gradient steps.
        self.out_scale = 1e-3
        self.out_bias = nn.Parameter(torch.zeros(1))

    def embed(self, img):
        return self.backbone(img)

    def score(self, z, x):
        return xcorr(z, x) * self.out_scale + self.out_bias

    def forward(self, exemplar, search):
        return self.score(self.embed(exemplar), self.embed(search))


def fuse_batchnorm(module):
    """Fold every BatchNorm into the conv before it, for inference: same outputs, fewer ops."""
    children = list(module.named_children())
    for (name, child), (next_name, nxt) in zip(children, children[1:] + [(None, None)]):
        if isinstance(child, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            setattr(module, name, torch.nn.utils.fusion.fuse_conv_bn_eval(child, nxt))
            setattr(module, next_name, nn.Identity())
        else:
            fuse_batchnorm(child)
    if isinstance(module, nn.Sequential):
        # Even an Identity costs a module call, twice a frame for each of the backbone's 13.
        for i in reversed(range(len(module))):
            if isinstance(module[i], nn.Identity):
                del module[i]
    return module
