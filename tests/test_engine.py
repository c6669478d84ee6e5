import importlib.util
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from test_model import randomize_batchnorm, sliding_dot
from test_siamfc import moving_object, run
from tracker.build import build_tracker
from tracker.engine import OnnxEngine, graph_key, graph_names, onnx_session, read_graphs, write_graphs
from tracker.errors import UserError
from tracker.model import SiamFC
from tracker.params import load_params
from tracker.torch_engine import TorchEngine, cubic_upsampler, export_graphs, tracking_modules

spec = importlib.util.find_spec
SHAPES = (1, 255, 255, 3), (3, 255, 255, 3), (2, 143, 143, 3)


def random_net(backbone):
    torch.manual_seed(0)
    net = SiamFC(backbone, width=0.5).eval()
    randomize_batchnorm(net, 1)
    with torch.no_grad():
        net.out_bias.fill_(0.3)
        if backbone == "light":
            net.backbone[-1].bias.uniform_(-1, 1)  # a zero bias would hide a wrong folded constant
    return net


def crops(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def nchw(crops):
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float()


@pytest.mark.parametrize("backbone", ["light", "alexnet"])
def test_exemplar_and_search_score_as_the_trained_network_does(backbone):
    """The light backbone's last 1x1 conv folded into the kernel, AlexNet's kept: either way the
    scores of the training-time forward (xcorr's grouped convolution on whole embeddings)."""
    net = random_net(backbone)
    exemplar, search, _ = tracking_modules(net, load_params()["tracking"])
    z, x = crops((1, 127, 127, 3)), crops((3, 255, 255, 3), 1)
    with torch.no_grad():
        got = search(torch.from_numpy(x), *exemplar(torch.from_numpy(z)))
        want = net(nchw(z), nchw(x))[:, 0]
    assert got.shape == (3, 17, 17)
    torch.testing.assert_close(got / want.abs().max(), want / want.abs().max(), atol=1e-5, rtol=0)


def test_search_correlates_each_crop_with_its_own_kernel_as_defined():
    """Search's batched matrix product and one-hot shift: each cell the crop's kernel laid on the
    crop's features, plus the crop's bias."""
    net = random_net("light")
    _, search, _ = tracking_modules(net, load_params()["tracking"])
    x = crops((2, 151, 151, 3))
    with torch.no_grad():
        features = search.features(torch.from_numpy(x)).permute(0, 3, 1, 2)
        c = features.shape[1]
        kernel, bias = torch.randn(2, 1, c, 8 * 8), torch.tensor([0.5, -2.0]).reshape(2, 1, 1)  # light: 8x8 cells
        got = search(torch.from_numpy(x), kernel, bias)
    for b in range(2):
        want = sliding_dot(kernel[b, 0].reshape(c, 8, 8), features[b]) + bias[b]
        torch.testing.assert_close(got[b], want, atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("n,size", [(17, 273), (3, 33), (5, 7)])
def test_cubic_upsampler_resizes_as_cv2_does(n, size):
    r = np.random.default_rng(n).normal(0, 5, (n, n)).astype(np.float32)
    a = cubic_upsampler(n, size)
    expected = cv2.resize(r, (size, size), interpolation=cv2.INTER_CUBIC)
    got = a @ r @ a.T
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.argmax(got) == np.argmax(expected)


@pytest.mark.parametrize("backbone", ["light", "alexnet"])
def test_onnx_runtime_computes_what_torch_does(backbone):
    """A search graph for each crop size, taking stacks of any size with a kernel per crop (two
    targets' here), and the exemplar and upsampling graphs."""
    tracking = {**load_params()["tracking"], "side_size": 143}
    modules = tracking_modules(random_net(backbone), tracking)
    onnx, reference = OnnxEngine(export_graphs(modules, tracking), 1), TorchEngine(modules, "cpu", 0)
    kernels = {e: [e.exemplar(crops((127, 127, 3), seed)) for seed in (3, 4)] for e in (onnx, reference)}
    for shape in SHAPES:
        x = crops(shape, 1)
        got, want = (e.score_maps(x, [kernels[e][i % 2] for i in range(shape[0])]) for e in (onnx, reference))
        assert got.shape == want.shape == (shape[0], *(((shape[1] - 127) // 8 + 1,) * 2))
        np.testing.assert_allclose(got / np.abs(want).max(), want / np.abs(want).max(), atol=1e-5)
    response = np.random.default_rng(2).normal(0, 3, (17, 17)).astype(np.float32)
    np.testing.assert_allclose(onnx.upsample(response), reference.upsample(response), atol=1e-4)


def test_both_engines_track_alike():
    frames, truth = moving_object(30)
    boxes = {}
    for engine in ("onnxruntime", "torch"):
        tracker = build_tracker(tracking={"engine": engine})
        assert isinstance(tracker.engine, OnnxEngine if engine == "onnxruntime" else TorchEngine)
        boxes[engine] = run(tracker, frames, truth[0])
    np.testing.assert_allclose(boxes["onnxruntime"], boxes["torch"], atol=0.01)


START = """
import json, sys
import numpy as np
from tracker.build import build_tracker
frame = np.zeros((240, 320, 3), np.uint8)
frame[100:140, 150:200] = 200
tracker = build_tracker()
tracker.init(frame, [150, 100, 50, 40])
box, score = tracker.update(frame)
print(json.dumps({"box": list(box), "score": score, "torch": "torch" in sys.modules}))
"""


def start(cache):
    env = dict(os.environ, SIAMTRACK_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_a_second_start_runs_from_the_cached_graphs_without_torch(tmp_path):
    first = start(tmp_path)
    assert first["torch"]  # the graphs were exported
    graphs = os.listdir(tmp_path / "onnx")
    assert len(graphs) == len(graph_names(load_params()["tracking"]))
    second = start(tmp_path)
    assert not second["torch"] and second["box"] == first["box"] and second["score"] == first["score"]
    # A damaged graph is exported again, not run.
    path = tmp_path / "onnx" / graphs[0]
    path.write_bytes(path.read_bytes()[:-10])
    third = start(tmp_path)
    assert third["torch"] and third["box"] == first["box"]
    assert not start(tmp_path)["torch"]


def test_the_cache_key_covers_what_the_graphs_depend_on():
    params = load_params()
    key = graph_key(params, "weights")
    assert graph_key(load_params(), "weights") == key
    assert graph_key(params, "other weights") != key
    for section, name, value in [
        ("tracking", "exemplar_size", 119),
        ("tracking", "side_size", 0),
        ("tracking", "response_up", 8),
        ("tracking", "instance_size", 271),
        ("model", "width", 0.75),
    ]:
        changed = load_params()
        changed[section][name] = value
        assert graph_key(changed, "weights") != key, name
    changed = load_params()
    changed["tracking"].update(window_influence=0.3, redetect=False, scale_num=5)  # the same graphs
    assert graph_key(changed, "weights") == key


def test_an_unknown_engine_is_a_one_line_error(tmp_path):
    path = tmp_path / "engine.yaml"
    path.write_text("tracking:\n  engine: tensorrt\n")
    with pytest.raises(UserError, match=r"tracking\.engine.*onnxruntime.*torch"):
        load_params(str(path))


def test_torch_running_the_network_takes_the_configs_threads():
    before = torch.get_num_threads()
    try:
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
    assert isinstance(build_tracker(tracking={"engine": "torch"}).engine, TorchEngine)


def test_graphs_unused_for_a_month_are_removed_when_new_ones_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SIAMTRACK_CACHE", str(tmp_path))
    tracking = load_params()["tracking"]
    graphs = {name: b"graph" for name in graph_names(tracking)}
    write_graphs("old", graphs)
    write_graphs("used", graphs)
    month = time.time() - 31 * 86400
    for path in (tmp_path / "onnx").iterdir():
        os.utime(path, (month, month))
    assert read_graphs("used", tracking) == graphs  # read: marked used now
    write_graphs("new", graphs)
    left = {path.name.split("-")[0] for path in (tmp_path / "onnx").iterdir()}
    assert left == {"used", "new"}


@pytest.mark.parametrize("cause", [KeyboardInterrupt(), None])
def test_onnx_runtime_failing_to_import_is_ctrl_c_or_one_line(monkeypatch, cause):
    """ONNX Runtime reports a Ctrl-C during its import as an ImportError: it stays a Ctrl-C; any
    other failure to import is one line naming the fix."""
    real = __import__

    def failing(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("initialization failed") from cause
        return real(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", failing)
    expected = KeyboardInterrupt if cause else UserError
    with pytest.raises(expected) as e:
        onnx_session(b"", 1)
    if cause is None:
        assert "does not import" in str(e.value) and "tracking.engine: torch" in str(e.value)
