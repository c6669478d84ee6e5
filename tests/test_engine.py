import importlib.util

import numpy as np
import pytest
import torch

from test_model import randomize_batchnorm
from test_siamfc import moving_object, run
from tracker import weights as weights_io
from tracker.build import build_tracker
from tracker.engine import OnnxSearch, TorchSearch
from tracker.errors import UserError
from tracker.model import SiamFC, fuse_batchnorm, search_branch
from tracker.params import load_params
from tracker.siamfc import SiamFCTracker

spec = importlib.util.find_spec


@pytest.mark.parametrize("backbone", ["light", "alexnet"])
def test_onnx_runtime_gives_torchs_features(backbone):
    """A session for each crop stack's shape, each computing what torch does."""
    torch.manual_seed(0)
    net = SiamFC(backbone, width=0.5).eval()
    randomize_batchnorm(net, 1)
    branch = search_branch(fuse_batchnorm(net).backbone)
    shapes = (1, 255, 255, 3), (2, 143, 143, 3), (3, 127, 127, 3)
    onnx, reference = OnnxSearch(branch, 1, shapes), TorchSearch(branch, "cpu")
    rng = np.random.default_rng(0)
    for shape in shapes:
        crops = rng.integers(0, 256, shape, dtype=np.uint8)
        got, want = onnx(crops), reference(crops)
        assert got.shape == want.shape and got.shape[0] == shape[0]
        torch.testing.assert_close(got / want.abs().max(), want / want.abs().max(), atol=1e-5, rtol=0)


def test_both_engines_track_alike():
    params = load_params()
    net, _ = weights_io.load(params["weights"], params["model"])
    frames, truth = moving_object(30)
    boxes = {}
    for engine in ("onnxruntime", "torch"):
        params["tracking"]["engine"] = engine
        tracker = SiamFCTracker(net, params)
        assert isinstance(tracker.search, OnnxSearch if engine == "onnxruntime" else TorchSearch)
        boxes[engine] = run(tracker, frames, truth[0])
    np.testing.assert_allclose(boxes["onnxruntime"], boxes["torch"], atol=0.01)


def test_an_unknown_engine_is_a_one_line_error(tmp_path):
    path = tmp_path / "engine.yaml"
    path.write_text("tracking:\n  engine: tensorrt\n")
    with pytest.raises(UserError, match=r"tracking\.engine.*onnxruntime.*torch"):
        load_params(str(path))


def test_torch_keeps_to_one_thread_beside_onnx_runtime():
    """torch's small ops around ONNX Runtime's network would only wait on its cores; torch running
    the network itself gets the config's threads."""
    before = torch.get_num_threads()
    try:
        build_tracker(tracking={"threads": 2})
        assert torch.get_num_threads() == 1
        build_tracker(tracking={"threads": 2, "engine": "torch"})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_without_onnx_runtime_the_error_names_the_fix(monkeypatch):
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *a: None if name in ("onnx", "onnxruntime") else spec(name)
    )
    fix = r"not installed; pip install onnxruntime onnx, or set tracking\.engine: torch"
    with pytest.raises(UserError, match=fix) as e:
        build_tracker()
    assert "\n" not in str(e.value)
    assert isinstance(build_tracker(tracking={"engine": "torch"}).search, TorchSearch)
