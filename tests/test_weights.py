import os

import numpy as np
import pytest
import torch

from tracker import weights
from tracker.config import WEIGHTS_DIR
from tracker.errors import UserError
from tracker.model import SiamFC

SHIPPED = os.path.join(WEIGHTS_DIR, "siamfc_light.pt")
TINY = {"backbone": "light", "width": 0.25}


def outputs(net):
    g = torch.Generator().manual_seed(0)
    z, x = torch.rand(1, 3, 127, 127, generator=g) * 255, torch.rand(1, 3, 255, 255, generator=g) * 255
    with torch.inference_mode():
        return net.eval()(z, x)


def load_error(path, model_cfg=None):
    with pytest.raises(UserError) as e:
        weights.load(str(path), model_cfg)
    message = str(e.value)
    assert "\n" not in message and str(path) in message
    return message


def test_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    net = SiamFC(**TINY)
    with torch.no_grad():  # running stats and the bias must travel too, not just conv weights
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
        net.out_bias.fill_(0.3)
    weights.save(tmp_path / "w.pt", net, TINY, {"epochs": 3})
    loaded, meta = weights.load(str(tmp_path / "w.pt"), TINY)
    assert meta == {"epochs": 3}
    assert torch.equal(outputs(loaded), outputs(net))


def test_bare_name_finds_shipped_weights():
    net, _ = weights.load("siamfc_light.pt", {"backbone": "light", "width": 1.0})
    assert isinstance(net, SiamFC)


def test_missing_file(tmp_path):
    assert "not found" in load_error(tmp_path / "absent.pt")


def test_truncated_file(tmp_path):
    with open(SHIPPED, "rb") as f:
        blob = f.read()
    (tmp_path / "half.pt").write_bytes(blob[: len(blob) // 2])
    assert "corrupt" in load_error(tmp_path / "half.pt")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    assert "corrupt" in load_error(tmp_path / "noise.pt")


def test_model_config_mismatch():
    message = load_error(SHIPPED, {"backbone": "alexnet", "width": 1.0})
    assert "alexnet" in message and "light" in message


def flip_byte_inside_a_tensor(path, tensor):
    """Change one byte in the middle of `tensor`'s data where torch.save stored it in `path`."""
    blob = bytearray(path.read_bytes())
    data = tensor.numpy().tobytes()
    at = blob.find(data)
    assert at >= 0 and blob.find(data, at + 1) < 0
    blob[at + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(blob))


def test_one_flipped_byte_inside_a_tensor_is_refused(tmp_path):
    torch.manual_seed(0)
    net = SiamFC(**TINY)
    path = tmp_path / "w.pt"
    weights.save(path, net, TINY)
    flip_byte_inside_a_tensor(path, net.backbone[0].weight.detach())
    torch.load(path, weights_only=True)  # torch itself does not notice
    assert "checksum mismatch" in load_error(path, TINY)


def test_weights_without_a_checksum_still_load(tmp_path):
    net = SiamFC(**TINY)
    torch.save({"model": TINY, "state_dict": net.state_dict(), "meta": {}}, tmp_path / "old.pt")
    loaded, _ = weights.load(str(tmp_path / "old.pt"), TINY)
    assert torch.equal(outputs(loaded), outputs(net))


@pytest.mark.parametrize("name", ["siamfc_light.pt", "siamfc_alexnet.pt"])
def test_shipped_weights_carry_their_checksum(name):
    blob = torch.load(os.path.join(WEIGHTS_DIR, name), weights_only=True)
    assert blob["sha256"] == weights.checksum(blob)
