import copy

import pytest
import torch
from torch import nn

from tracker.architecture import TOTAL_STRIDE
from tracker.model import SiamFC, fuse_batchnorm, xcorr


def sliding_dot(z, x):
    """Cross-correlation by its definition: the exemplar laid on every position of the search map."""
    _, h, w = z.shape
    _, hx, wx = x.shape
    out = torch.empty(hx - h + 1, wx - w + 1)
    for i in range(hx - h + 1):
        for j in range(wx - w + 1):
            out[i, j] = (z * x[:, i : i + h, j : j + w]).sum()
    return out


def test_xcorr_one_exemplar_against_three_scales():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, 4, 3, 2, generator=g)
    x = torch.randn(3, 4, 7, 6, generator=g)  # not square, so a swapped axis shows
    out = xcorr(z, x)
    assert out.shape == (3, 1, 5, 5)
    for b in range(3):
        torch.testing.assert_close(out[b, 0], sliding_dot(z[0], x[b]), atol=1e-5, rtol=1e-5)


def test_xcorr_pairs_each_exemplar_with_its_own_search():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, 5, 3, 3, generator=g)
    x = torch.randn(4, 5, 6, 8, generator=g)
    out = xcorr(z, x)
    assert out.shape == (4, 1, 4, 6)
    for b in range(4):
        torch.testing.assert_close(out[b, 0], sliding_dot(z[b], x[b]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backbone", ["alexnet", "light"])
def test_response_is_17x17_for_127_and_255(backbone):
    net = SiamFC(backbone).eval()
    with torch.inference_mode():
        out = net(torch.zeros(2, 3, 127, 127), torch.zeros(2, 3, 255, 255))
    assert out.shape == (2, 1, 17, 17)


def randomize_batchnorm(net, seed):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g))


@pytest.mark.parametrize("backbone", ["alexnet", "light"])
def test_fuse_batchnorm_keeps_outputs(backbone):
    torch.manual_seed(0)
    net = SiamFC(backbone, width=0.5)
    randomize_batchnorm(net, 0)
    net.eval()
    fused = fuse_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Identity)) for m in fused.modules())
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    with torch.inference_mode():
        ref_embed, ref = net.embed(x), net(z, x)
        got_embed, got = fused.embed(x), fused(z, x)
    scale = ref_embed.abs().max()
    torch.testing.assert_close(got_embed / scale, ref_embed / scale, atol=1e-4, rtol=0)
    torch.testing.assert_close(got / ref.abs().max(), ref / ref.abs().max(), atol=1e-4, rtol=0)


def test_light_receptive_field_is_71_px():
    # 3 + 2*2 + 2*4 + 2*4 + 3 * 2*8 = 71, which is what makes 127 px give 8x8 cells: (127 - 71) / 8 + 1.
    # Positive weights and input keep every ReLU open, so the gradient reaches the whole field.
    net = SiamFC("light").eval()
    with torch.no_grad():
        for p in net.backbone.parameters():
            p.abs_()
    x = torch.rand(1, 3, 127, 127, requires_grad=True)
    out = net.embed(x)
    out[0, :, 4, 4].sum().backward()
    rows = torch.nonzero(x.grad[0].abs().sum((0, 2)))[:, 0]
    cols = torch.nonzero(x.grad[0].abs().sum((0, 1)))[:, 0]
    assert rows.max() - rows.min() + 1 == 71 and cols.max() - cols.min() + 1 == 71
    assert rows.min() == 4 * TOTAL_STRIDE
