import cv2
import numpy as np
import pytest

from tracker.scalefilter import CELL, ScaleFilter, gradient_histograms, model_shape


def test_model_shape_keeps_aspect_in_whole_cells():
    assert model_shape(64, 32, 512) == (32, 16)
    w, h = model_shape(10, 300, 512)
    assert w % CELL == 0 and h % CELL == 0 and w >= CELL and 0.5 < w * h / 512 < 1.5


def test_gradient_histograms_hand_computed():
    # A vertical edge: left half 0, right half 100. Central differences give gx = 100 on the two
    # columns beside the edge, gy = 0: all of it falls in the 0-degree bin of the cells it crosses.
    patch = np.zeros((1, 8, 8), np.float32)
    patch[0, :, 4:] = 100
    f = gradient_histograms(patch).reshape(2, 2, 10)   # 2x2 cells, 9 bins + mean
    for row in range(2):
        left, right = f[row, 0], f[row, 1]
        # each cell holds 4 rows x 1 column of magnitude 100: 400, normalised by 400 + 1
        np.testing.assert_allclose(left[:9], [400 / 401] + [0] * 8, rtol=1e-6)
        np.testing.assert_allclose(right[:9], [400 / 401] + [0] * 8, rtol=1e-6)
        assert left[9] == pytest.approx(-0.5) and right[9] == pytest.approx(100 / 255 - 0.5)
    # A horizontal edge turns the same energy into the 90-degree bin (bin 4 of 9 covers 80-100).
    f = gradient_histograms(np.ascontiguousarray(patch.transpose(0, 2, 1))).reshape(2, 2, 10)
    assert f[0, 0, 4] == pytest.approx(400 / 401) and f[0, 0, :9].sum() == pytest.approx(400 / 401)


def zoomed(img, factor):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, factor)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("factor", [1.0, 1.06, 1.12, 0.9])
def test_finds_a_known_zoom(factor):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 2)
    center, size = np.array([320.0, 240.0]), np.array([90.0, 60.0])
    f = ScaleFilter()
    f.init(img, center, size)
    found = f.estimate(zoomed(img, factor), center, size)
    # within one of the filter's 2% steps
    assert abs(np.log(found / factor)) <= np.log(f.step) * 1.01


def test_follows_a_steady_zoom_over_frames():
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 2)
    center, size = np.array([320.0, 240.0]), np.array([80.0, 80.0])
    f = ScaleFilter()
    f.init(img, center, size)
    for k in range(1, 16):   # 2.5% a frame: 1.45x in all
        size = size * f.estimate(zoomed(img, 1.025 ** k), center, size)
    assert size[0] / 80 == pytest.approx(1.025 ** 15, rel=0.05)
