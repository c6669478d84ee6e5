"""SiamFC's tracking step: `init(frame, box)`, then `update(frame) -> (box, score)` per frame."""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from .architecture import TOTAL_STRIDE, response_sizes
from .colour import ColourModel
from .config import check_rules
from .engine import search_shapes
from .errors import UserError
from .geometry import context_size, crop, cxcywh_to_xywh, shrink_around, tile_centres, warp_square, xywh_to_cxcywh
from .interface import MultiTracker, Tracker
from .params import RULES
from .pixels import to_bgr8


def check_box(box, frame_shape):
    """The first box as floats, or a UserError saying what is wrong with it."""
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    h, w = frame_shape[:2]
    if box.size != 4 or not np.all(np.isfinite(box)):
        raise UserError(f"box {box.tolist()} must be 4 finite numbers x,y,w,h")
    if box[2] <= 0 or box[3] <= 0:
        raise UserError(f"box {box.tolist()} has zero or negative size; width and height must be > 0")
    if box[0] >= w or box[1] >= h or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
        raise UserError(f"box {box.tolist()} lies outside the {w}x{h} frame; give a box inside it")
    return box


def score_of(logit):
    """The tracker's score: the response logit as a probability."""
    return 1 / (1 + np.exp(-float(logit)))


class SiamFCTracker(Tracker):
    """SiamFC's tracking step with `params` (a config's) on `engine`, what runs the network (see
    engine.py); build.build_tracker makes one from files, build.tracker_from_net from a network.

    The API: init(frame, box), then update(frame) -> (box, score) per frame; correct() to put it
    back on the target; `lost` (the last score fell under tracking.lost_threshold) and `response`
    (the last upsampled response map); close() when done. Frames are BGR (or grayscale) numpy
    arrays as OpenCV reads them, boxes x, y, w, h in pixels. Names starting with _ are internal.
    """

    def __init__(self, engine, params):
        check_rules(params, RULES, "the tracking parameters")  # also those set in code, not a file
        self.params, self.p = params, params["tracking"]
        p = self.p
        # The engine also upsamples the response: numpy's BLAS would run its own threads, which spin
        # on the second core after every product and starve whatever else runs there.
        self.engine = engine
        n = p["scale_num"]
        self.scale_factors = p["scale_step"] ** np.linspace(-(n // 2), n // 2, n)
        self._n_response, self._up_size = response_sizes(p)
        hann = np.outer(np.hanning(self._up_size), np.hanning(self._up_size))
        self._window = (hann / hann.sum()).astype(np.float32)
        self._blend = np.empty_like(self._window)
        self.response = None
        # Every frame's search crops are warped into these buffers: all scales at full size, or,
        # with two passes, the centre scale at full size and the side scales at side_size.
        # Re-detection's tile is one search region (with two passes, the centre pass's shape: no
        # other graph to run).
        shapes = search_shapes(p)
        self._two_pass = shapes["side"] is not None
        self._crops, self.side_crops, self._tile_crop = (
            None if shape is None else np.empty(shape, np.uint8) for shape in shapes.values()
        )
        self._mid = n // 2
        self.side_factors = np.delete(self.scale_factors, self._mid)
        # SiamFC multiplies each side scale's peak by its penalty; a negative logit would rise under
        # that, so the penalty takes its share off the magnitude whatever the sign (best_scale).
        self._penalty = np.where(self.scale_factors == 1, 0.0, 1 - p["scale_penalty"])
        # With two passes, the colour model reads the centre crop on a second thread while the
        # network runs on it: OpenCV and ONNX Runtime (and torch) let go of Python's lock while they work.
        self._beside = ThreadPoolExecutor(1) if self._two_pass and p["colour_weight"] > 0 else None

    def close(self) -> None:
        """Stop the colour model's thread; the tracker is not used after."""
        if self._beside:
            self._beside.shutdown()

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        """Start tracking the target inside `box` (x, y, w, h; a UserError if it has no size or
        lies outside `frame`) on `frame`; forgets any earlier target."""
        frame = to_bgr8(frame)
        box = check_box(box, frame.shape)
        cx, cy, w, h = xywh_to_cxcywh(box)
        self.correct(centre=(cx, cy), size=(w, h))
        self._first_x_side = self.x_side
        z_side = context_size(w, h, self.p["context"])
        # Crops reaching outside the frame are padded with the first frame's mean colour, as in
        # SiamFC: recomputing it every frame would cost more than a search crop's warp.
        self._fill = cv2.mean(frame)[:3]
        self.kernel = self.engine.exemplar(crop(frame, self.center, z_side, self.p["exemplar_size"], self._fill))
        self.lost = False
        self._found = self.size, self.x_side  # the size where the target was last found
        self._tile = 0  # the next re-detection tile
        self.colour = self._to_learn = None
        if self.p["colour_weight"] > 0:
            # Learnt against the whole search region: what the target must stand out from.
            x = self.search_crops(frame, np.ones(1), self._crops[:1])[0]
            centre = (self.p["instance_size"] / 2,) * 2
            self.colour = ColourModel(x, centre, self._target_in_crop(1.0), self.p["colour_bins"])

    def correct(self, centre: Sequence[float] | None = None, size: Sequence[float] | None = None) -> None:
        """Overwrite the tracked centre (cx, cy) and/or size (w, h) in pixels, e.g. with a user's
        correction, for the next update(); the exemplar stays the first frame's."""
        if centre is not None:
            self.center = np.asarray(centre, dtype=np.float64)
        if size is not None:
            self.size = np.asarray(size, dtype=np.float64)
            p = self.p
            self.x_side = context_size(*self.size, p["context"]) * p["instance_size"] / p["exemplar_size"]

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """The target's box (x, y, w, h, floats) on the next frame, and the score: the sigmoid of
        the response peak, in (0, 1). Sets `lost` and `response`. While lost, one tile of a search
        over the whole frame may find the target again."""
        steps = self.steps(to_bgr8(frame))
        crops = next(steps)
        while True:
            try:
                crops = steps.send(self.score_maps(crops))
            except StopIteration as done:
                return done.value

    def steps(self, frame):
        """update()'s work on a BGR frame, as a generator that yields each stack of search crops for
        the network, is sent their score maps, and returns (box, score): SiamFCMultiTracker scores
        the crops of several targets together."""
        box, score = yield from self._search(frame)
        if not self.lost:
            self._found = self.size, self.x_side
        elif self._tile_crop is not None:
            box, score = yield from self._redetect(frame, box, score)
        return box, score

    def _search(self, frame):
        """Search around the last position: (box, score)."""
        if not self._two_pass:
            crops = self.search_crops(frame)
            return self.locate((yield crops), frame.shape, crops)
        # The centre scale places the target; the side scales, cut smaller around that place, then
        # only have to say whether it looks bigger or smaller there.
        crops = self.search_crops(frame, self.scale_factors[self._mid : self._mid + 1])
        colour = self.colour and self._beside.submit(self.colour_scores, crops[0], 1.0)
        centre = (yield crops)[0]
        self.move(centre, 1.0, frame.shape, colour and colour.result())
        side_maps = yield self.search_crops(frame, self.side_factors, self.side_crops)
        side = side_maps.reshape(len(side_maps), -1).max(1)
        return self._rescale(np.concatenate([side[: self._mid], [centre.max()], side[self._mid :]]))

    # update()'s steps, apart so that a subclass can time or watch each.

    def search_crops(self, frame, factors=None, out=None):
        """Warp the search region around the target at each scale factor into `out` (by default all
        scales into self._crops); a buffer smaller than instance_size sees a proportionally smaller region."""
        factors = self.scale_factors if factors is None else factors
        out = self._crops if out is None else out
        size = out.shape[1]
        sides = self.x_side * factors * size / self.p["instance_size"]
        # One shrink serves every scale: after the largest's, none shrinks more than 2x.
        region, center, side = shrink_around(frame, self.center, sides.max(), size)
        for s, crop_ in zip(sides * (side / sides.max()), out):
            warp_square(region, center, s, size, self._fill, crop_)
        return out

    def score_maps(self, crops):
        """The response logits of the search crops, one map per crop."""
        return self.engine.score_maps(crops, [self.kernel] * len(crops))

    def locate(self, maps, frame_shape, crops):
        """Move the target to the best response, damping the scale change; returns (box, score)."""
        peaks = maps.reshape(len(maps), -1).max(1)
        i = self._best_scale(peaks)
        colour = self.colour and self.colour_scores(crops[i], self.scale_factors[i])
        self.move(maps[i], self.scale_factors[i], frame_shape, colour)
        return self._rescale(peaks)

    def _best_scale(self, peaks):
        return int(np.argmax(peaks - self._penalty * np.abs(peaks)))

    def _target_in_crop(self, scale):
        """The target's (w, h) in the pixels of a crop searched at `scale`."""
        return self.size * self.p["instance_size"] / (self.x_side * scale)

    def colour_scores(self, crop, scale):
        """The pixels of `crop` (searched at `scale`) that the colour model reads, and its score map
        on the response's grid, after learning from the last frame if move() left it something."""
        if self._to_learn is not None:
            self.colour.update(*self._to_learn, self.p["colour_rate"])
            self._to_learn = None
        pixels = self.colour.sample(crop)
        n = self._n_response
        reach = (n - 1) // 2 * TOTAL_STRIDE
        return pixels, self.colour.score_map(pixels, crop.shape[0], self._target_in_crop(scale), reach, n)

    def move(self, response, scale, frame_shape, colour=None):
        """Move the target to the peak of one full-size response map, seen at `scale`, blended with
        `colour`, the colour_scores of its crop (None: no colour model)."""
        p = self.p
        flat, peak = not np.ptp(response), float(response.max())
        if colour is not None and not flat:
            # Blended before upsampling, which is linear: the same as blending with a bicubically
            # upsampled colour map, at 1/200 of the pixels; box means change little over 8 px.
            pixels, scores = colour
            c = p["colour_weight"]
            response = response - response.min()
            response = (1 - c) / response.max() * response + c * scores
        r = self.engine.upsample(response.astype(np.float32, copy=False))
        self.response = r
        if flat:
            # A crop of padding only (the target far outside the frame) gives a flat map, which
            # upsampling's rounding would turn into a random move once normalised.
            return
        # SiamFC's blend, (1 - w) * m / sum(m) + w * window with m = r - min(r), times
        # sum(m) / (1 - w) and less the constant min(r): the same argmax in fewer passes over the map.
        w = p["window_influence"]
        np.multiply(self._window, w / (1 - w) * (r.sum() - r.min() * r.size), out=self._blend)
        self._blend += r
        y, x = np.unravel_index(np.argmax(self._blend), r.shape)
        disp = (np.array([x, y]) - (self._up_size - 1) / 2) * TOTAL_STRIDE / p["response_up"]
        self.center = self.center + disp * self.x_side * scale / p["instance_size"]
        h, w = frame_shape[:2]
        self.center = np.clip(self.center, 0, [w, h])
        # Learning from a frame where the target may be lost would teach the model the background.
        # The next colour_scores learns it, on the colour model's thread.
        if colour is not None and score_of(peak) >= p["lost_threshold"]:
            self._to_learn = pixels, p["instance_size"] / 2 + disp, self._target_in_crop(scale)

    def _rescale(self, peaks):
        """Take a damped step towards the best scale; returns (box, score)."""
        p = self.p
        i = self._best_scale(peaks)
        step = (1 - p["scale_lr"]) + p["scale_lr"] * self.scale_factors[i]
        x_side = min(max(self.x_side * step, p["min_scale"] * self._first_x_side), p["max_scale"] * self._first_x_side)
        step = x_side / self.x_side
        self.size = self.size * step
        self.x_side *= step
        score = score_of(peaks[i])
        self.lost = bool(score < p["lost_threshold"])
        return cxcywh_to_xywh([*self.center, *self.size]), float(score)

    def _redetect(self, frame, box, score):
        """Search the next of the tiles that cover the frame with the target at the size where it
        was last found, and move there if the best match scores tracking.redetect_threshold and
        more than the local search's `score`; returns (box, score)."""
        p = self.p
        size, x_side = self._found
        # A tile's response reaches (instance - exemplar) crop px; at the found scale, in frame px:
        reach = x_side * (p["instance_size"] - p["exemplar_size"]) / p["instance_size"]
        tiles = tile_centres(frame.shape[1], frame.shape[0], reach)
        centre = np.asarray(tiles[self._tile % len(tiles)])
        self._tile += 1
        crop(frame, centre, x_side, p["instance_size"], self._fill, self._tile_crop[0])
        response = (yield self._tile_crop)[0]
        y, x = np.unravel_index(np.argmax(response), response.shape)
        found = score_of(response[y, x])
        if found < p["redetect_threshold"] or found <= score:
            return box, score
        disp = (np.array([x, y]) - (response.shape[0] - 1) / 2) * TOTAL_STRIDE * x_side / p["instance_size"]
        h, w = frame.shape[:2]
        self.correct(centre=np.clip(centre + disp, 0, [w, h]), size=size)  # as move() keeps it in the frame
        self.lost = False
        return cxcywh_to_xywh([*self.center, *self.size]), found


class SiamFCMultiTracker(MultiTracker):
    """Several targets, a SiamFCTracker (or `cls`) each with `params`, all on one `engine`: the
    search crops of a frame go through the network together, one batch for each crop size in each
    round of the targets' steps (centre scale, side scales, re-detection's tiles). One target gets
    exactly SiamFCTracker's boxes."""

    def __init__(self, engine, params, cls=SiamFCTracker):
        super().__init__(lambda: cls(engine, params))
        self.engine = engine

    def update(self, frame: np.ndarray) -> list[tuple[np.ndarray, float]]:
        frame = to_bgr8(frame)
        steps = [tracker.steps(frame) for tracker in self.trackers]
        results = [None] * len(steps)
        asked = {i: next(s) for i, s in enumerate(steps)}  # every target searches at least once
        while asked:
            answers = {}
            for size in {crops.shape[1] for crops in asked.values()}:
                ids = [i for i, crops in asked.items() if crops.shape[1] == size]
                counts = [len(asked[i]) for i in ids]
                kernels = [self.trackers[i].kernel for i, n in zip(ids, counts) for _ in range(n)]
                maps = self.engine.score_maps(np.concatenate([asked[i] for i in ids]), kernels)
                answers.update(zip(ids, np.split(maps, np.cumsum(counts)[:-1])))
            asked = {}
            for i, maps in answers.items():
                try:
                    asked[i] = steps[i].send(maps)
                except StopIteration as done:
                    results[i] = done.value
        return results
