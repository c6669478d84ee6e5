import cv2
import numpy as np
import pytest

from tracker.build import build_tracker
from tracker.colour import ColourModel, histograms
from tracker.errors import UserError
from tracker.interface import track
from tracker.metrics import iou

RED, GREEN, BLUE, GREY = (0, 0, 200), (0, 200, 0), (200, 0, 0), (128, 128, 128)


def bin_of(colour, bins=32):
    return tuple(c * bins // 256 for c in colour)


def scene(offset=(0, 0), size=255, target=(40, 30)):
    """A red target on blue and grey, centred `offset` px from the crop's centre."""
    img = np.full((size, size, 3), GREY, np.uint8)
    img[:, : size // 3] = BLUE
    c = np.array([size / 2, size / 2]) + offset
    w, h = target
    img[int(c[1] - h / 2) : int(c[1] + h / 2), int(c[0] - w / 2) : int(c[0] + w / 2)] = RED
    return img, c


def test_histograms_split_the_box_from_the_rest():
    img = np.full((100, 100, 3), GREY, np.uint8)
    img[:, :30] = BLUE
    img[35:65, 30:70] = RED  # the 40 x 30 box centred at (50, 50)
    fg, bg = histograms(img, (50, 50), (40, 30), 32)
    assert fg.shape == (32, 32, 32)
    assert fg[bin_of(RED)] == pytest.approx(1.0)
    # Outside the box: 3,000 blue and 5,800 grey pixels of 8,800.
    assert bg[bin_of(BLUE)] == pytest.approx(3000 / 8800) and bg[bin_of(GREY)] == pytest.approx(5800 / 8800)
    lik = ColourModel(img, (50, 50), (40, 30), 32, step=1).lik
    assert lik[bin_of(RED)] == pytest.approx(1.0) and lik[bin_of(BLUE)] == pytest.approx(0.0, abs=1e-5)
    assert lik[bin_of(GREEN)] == pytest.approx(0.5)  # never seen


def test_the_model_reads_every_second_pixel():
    img = np.zeros((255, 255, 3), np.uint8)
    img[::2, ::2] = RED  # every other pixel red, the rest black
    model = ColourModel(img, (127.5, 127.5), (40, 30), 32, step=2)
    assert model.sample(img).shape == (128, 128, 3)
    assert (model.sample(img) == RED).all()
    # The box's pixels, seen at half resolution, are still the box's: 20 x 15 of them, all red.
    assert model.fg[bin_of(RED)] == pytest.approx(1.0) and model.bg[bin_of(RED)] == pytest.approx(1.0)


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("offset", [(0, 0), (17, -9), (-40, 25)])
def test_score_map_peaks_where_the_target_is(offset, step):
    img, c = scene()
    model = ColourModel(img, c, (40, 30), 32, step=step)
    moved, _ = scene(offset)
    reach, out = 64, 257
    m = model.score_map(model.sample(moved), 255, np.array([40, 30]), reach, out)
    assert m.shape == (out, out)
    ys, xs = np.nonzero(m >= m.max() - 1e-6)
    # Map positions back to offsets from the crop's centre: 2 * reach px over out - 1 steps.
    step_px = 2 * reach / (out - 1)
    got = np.array([xs.mean(), ys.mean()]) * step_px - reach
    np.testing.assert_allclose(got, offset, atol=1.0)
    assert m.max() > 0.98  # all red where the box sits on the target, but for resampling


def test_update_blends_at_the_rate():
    img, c = scene()
    model = ColourModel(img, c, (40, 30), 32)
    swapped = img.copy()
    swapped[(img == RED).all(-1)] = GREEN
    model.update(model.sample(swapped), c, (40, 30), 0.25)
    assert model.fg[bin_of(RED)] == pytest.approx(0.75) and model.fg[bin_of(GREEN)] == pytest.approx(0.25)


def colour_tracker(weight, bins=32):
    return build_tracker(tracking={"colour_weight": weight, "colour_bins": bins})


def test_colour_picks_the_target_between_two_equal_peaks():
    """A response with two equal peaks, 32 px left and 48 px right of the crop's centre, where
    the crop holds a green square and the red target: the cosine window alone takes the nearer
    (green) one, the colour model the red one."""
    frame = np.full((400, 400, 3), GREY, np.uint8)
    frame[176:224, 176:224] = RED
    response = np.full((17, 17), -5.0, np.float32)
    response[8, 4] = response[8, 12 + 2] = 5.0  # 8 px a cell: -32 and +48 px
    crop = np.full((255, 255, 3), GREY, np.uint8)
    crop[96:160, 64:128] = GREEN  # centred at -32 px
    crop[96:160, 144:208] = RED  # centred at +48 px
    for weight, offset in ((0.0, -32), (0.5, 48)):
        t = colour_tracker(weight)
        t.init(frame, (176, 176, 48, 48))
        before = t.center.copy()
        t.move(response, 1.0, frame.shape, t.colour and t.colour_scores(crop, 1.0))
        # In crop pixels; the cosine window pulls a peak a little towards the centre.
        moved = (t.center - before) * t.p["instance_size"] / t.x_side
        np.testing.assert_allclose(moved, (offset, 0), atol=4, err_msg=f"colour_weight {weight}")


@pytest.mark.parametrize("bins", [1, 300])
def test_colour_bins_must_fit_eight_bit_channels(bins):
    with pytest.raises(UserError, match="colour_bins") as e:
        colour_tracker(0.3, bins=bins)
    assert "\n" not in str(e.value)


def red_object(n, size=(480, 640), start=(100, 200), step=(6, 2), growth=0.01, obj=(60, 40)):
    """A growing object of random blocks, every one with full red, moving over a dark texture
    with no red at all: colours of its own."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 128, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    background = cv2.resize(small, size[::-1], interpolation=cv2.INTER_CUBIC)
    background[..., 2] = 0
    pattern = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    pattern[..., 2] = 255
    frames, boxes = [], []
    for i in range(n):
        w, h = int(obj[0] * (1 + growth * i)), int(obj[1] * (1 + growth * i))
        x, y = start[0] + step[0] * i, start[1] + step[1] * i
        frame = background.copy()
        frame[y : y + h, x : x + w] = cv2.resize(pattern, (w, h), interpolation=cv2.INTER_NEAREST)
        frames.append(frame)
        boxes.append([x, y, w, h])
    return frames, np.array(boxes, float)


def test_default_tracker_follows_an_object_of_its_own_colours():
    frames, truth = red_object(60)
    tracker = build_tracker()
    assert tracker.p["colour_weight"] > 0
    boxes = np.array([step.box for step in track(tracker, frames, truth[0])])
    assert iou(boxes, truth)[1:].mean() > 0.85
    assert boxes[-1, 2] * boxes[-1, 3] > 1.5 * truth[0, 2] * truth[0, 3]  # it grew with the object
