import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.geometry import context_size, crop, cxcywh_to_xywh, shrink_around, tile_centres, xywh_to_cxcywh

coord = st.floats(-1e4, 1e4, allow_nan=False)
side = st.floats(0, 1e4, allow_nan=False)


def test_box_conversion_hand_computed():
    np.testing.assert_allclose(xywh_to_cxcywh([10, 20, 4, 6]), [12, 23, 4, 6])
    np.testing.assert_allclose(cxcywh_to_xywh([12, 23, 4, 6]), [10, 20, 4, 6])


@given(st.tuples(coord, coord, side, side))
def test_box_conversions_round_trip(box):
    centred = xywh_to_cxcywh(box)
    back = cxcywh_to_xywh(centred)
    assert np.all(np.isfinite(centred)) and centred[2] >= 0 and centred[3] >= 0
    np.testing.assert_allclose(back, box, atol=1e-9 * (1 + np.abs(box).max()))


def test_context_size_hand_computed():
    # 60x20 target, context 0.5: pad = 0.5 * 80 = 40, side = sqrt(100 * 60)
    assert context_size(60, 20) == pytest.approx(np.sqrt(6000))
    # context 0: the geometric mean of the sides
    assert context_size(9, 4, context=0) == pytest.approx(6)


def test_crop_puts_the_box_at_the_centre_at_the_right_scale():
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[60:80, 100:140] = 255  # box x=100, y=60, w=40, h=20, centre (120, 70)
    out = crop(frame, (120, 70), 80, 40, (0, 0, 0))  # 80 px -> 40 px: half size
    # Output pixel u samples source x = 120 + 2 * (u + 0.5 - 20): columns 10..29 land on the square
    # (x = 101 .. 139), columns 9 and 30 exactly between two black pixels; rows likewise 15..24.
    expected = np.zeros((40, 40, 3), np.uint8)
    expected[15:25, 10:30] = 255
    np.testing.assert_array_equal(out, expected)


def test_crop_into_a_given_buffer():
    frame = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    buffer = np.zeros((32, 32, 3), np.uint8)
    out = crop(frame, (30, 20), 50, 32, (1, 2, 3), buffer)
    np.testing.assert_array_equal(buffer, crop(frame, (30, 20), 50, 32, (1, 2, 3)))
    assert out is buffer or np.shares_memory(out, buffer)


def test_large_shrink_keeps_centre_and_area():
    frame = np.zeros((1000, 1000, 3), np.uint8)
    frame[300:396, 400:600] = 255  # 200x96 box centred on (500, 348)
    out = crop(frame, (500, 348), 800, 100, (0, 0, 0)).astype(np.float64)[..., 0] / 255
    # Scale 1/8: a 25 x 12 px box centred on the crop centre (50, 50).
    assert out.sum() == pytest.approx(25 * 12, rel=0.01)
    rows, cols = np.indices(out.shape) + 0.5
    assert (out * cols).sum() / out.sum() == pytest.approx(50, abs=0.25)
    assert (out * rows).sum() / out.sum() == pytest.approx(50, abs=0.25)


@pytest.mark.parametrize("center", [(500, 500), (3, 997), (998.5, 1.5)])
def test_large_shrink_is_by_a_whole_factor_of_the_frame(center):
    # side 900 to 100 px: shrunk 5x (then 1.8x by the warp), averaging 5x5 blocks of the frame itself.
    frame = np.random.default_rng(1).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    small, c, side = shrink_around(frame, center, 900, 100)
    assert side == 180
    x0, y0 = np.asarray(center) - 5 * c
    assert x0 == int(x0) and y0 == int(y0)
    assert x0 + 5 * small.shape[1] <= 1000 and y0 + 5 * small.shape[0] <= 1000
    for i, j in [(0, 0), (small.shape[0] - 1, small.shape[1] - 1)]:
        block = frame[int(y0) + 5 * i : int(y0) + 5 * i + 5, int(x0) + 5 * j : int(x0) + 5 * j + 5]
        np.testing.assert_allclose(small[i, j], block.reshape(-1, 3).mean(0), atol=0.5)
    if center == (500, 500):  # inside the frame, the shrunk image holds the whole square and a margin
        assert np.all(c - side / 2 >= 2) and np.all(c + side / 2 <= np.array(small.shape[1::-1]) - 2)


def test_large_shrink_at_the_frame_edge():
    frame = np.zeros((1000, 1000, 3), np.uint8)
    frame[300:396, 0:200] = 255  # 200x96 box on the left edge, centred on (100, 348)
    out = crop(frame, (100, 348), 800, 100, (9, 9, 9))
    # Scale 1/8: source x < 0 lands left of output x = 50 - 100 / 8 = 37.5.
    assert np.all(out[:, :37] == 9)
    white = out[..., 0].astype(np.float64) * (out[..., 0] != 9) / 255
    assert white.sum() == pytest.approx(25 * 12, rel=0.01)
    rows, cols = np.indices(white.shape) + 0.5
    assert (white * cols).sum() / white.sum() == pytest.approx(50, abs=0.25)
    assert (white * rows).sum() / white.sum() == pytest.approx(50, abs=0.25)


def test_outside_the_frame_takes_the_fill_colour():
    frame = np.full((50, 50, 3), 100, np.uint8)
    out = crop(frame, (0, 0), 50, 50, (1, 2, 3))
    # Scale 1: output pixel u samples source pixel u - 25; pixel -1 and before are outside.
    assert np.all(out[:25] == (1, 2, 3)) and np.all(out[:, :25] == (1, 2, 3))
    assert np.all(out[25:, 25:] == 100)


def test_4k_frame_with_large_target():
    frame = np.random.default_rng(0).integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    out = crop(frame, (1920, 1080), 5000, 255, (0, 0, 0))
    assert out.shape == (255, 255, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("side", [30, 1000])
def test_one_pixel_wide_frame(side):
    frame = np.full((100, 1, 3), 200, np.uint8)
    out = crop(frame, (0.5, 50), side, 127, (0, 0, 0))
    assert out.shape == (127, 127, 3)
    # The crop centre samples the middle of the only column.
    assert out[63, 63].tolist() == [200, 200, 200]


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(1, 64),
    w=st.integers(1, 64),
    cx=st.floats(-200, 200),
    cy=st.floats(-200, 200),
    side=st.floats(0.5, 1e4),
    out_size=st.integers(1, 64),
)
def test_crop_always_has_the_network_size(h, w, cx, cy, side, out_size):
    frame = np.full((h, w, 3), 7, np.uint8)
    out = crop(frame, (cx, cy), side, out_size, (7, 7, 7))
    assert out.shape == (out_size, out_size, 3) and out.dtype == np.uint8
    # Frame and fill share one colour, so every pixel must have it: nothing is left unset.
    assert np.all(out == 7)


def test_tile_centres_cover_the_frame_with_the_fewest_tiles():
    # 640 x 480 with reach 300: 3 columns (213.3 px apart), 2 rows (240 px apart), row by row.
    centres = tile_centres(640, 480, 300)
    np.testing.assert_allclose(
        centres, [(640 / 6 * k, 120) for k in (1, 3, 5)] + [(640 / 6 * k, 360) for k in (1, 3, 5)]
    )
    assert tile_centres(100, 50, 300) == [(50.0, 25.0)]  # one tile for a frame smaller than its reach
