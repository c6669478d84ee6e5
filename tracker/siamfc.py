"""The SiamFC tracking loop: `init(frame, box)`, then `update(frame) -> (box, score)` per frame."""
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch

from . import weights as weights_io
from .colour import ColourModel
from .config import CONFIG_DIR, at_least, between, check_rules, load_config
from .engine import ENGINES, OnnxSearch, TorchSearch, crops_as_input
from .errors import UserError
from .geometry import context_size, crop, cxcywh_to_xywh, shrink_around, warp_square, xywh_to_cxcywh
from .model import CONFIG_CHOICES, TOTAL_STRIDE, fold_last_conv, fuse_batchnorm, search_branch, xcorr_one
from .video import to_bgr8

DEFAULTS = {
    "model": {"backbone": "mobilenet_v1", "width": 0.5},
    "weights": "siamfc_mobilenet.pt",
    "tracking": {
        "exemplar_size": 127,
        "instance_size": 255,
        "context": 0.5,
        "scale_num": 3,
        "scale_step": 1.0375,
        "scale_penalty": 0.9745,
        "scale_lr": 0.59,
        "window_influence": 0.176,
        "response_up": 16,
        # Search size of the side scales; 0 or instance_size: every scale at full size in one batch,
        # as in SiamFC. Smaller: two passes (see update()), fewer pixels through the network.
        "side_size": 0,
        "min_scale": 0.2,     # the target may shrink to 0.2x and grow to 5x its first size, as in SiamFC
        "max_scale": 5.0,
        "lost_threshold": 0.7,
        # Weight of the target's colour likelihood beside the normalised response (0: off), the
        # colour model's learning rate on confident frames, and its bins per channel.
        "colour_weight": 0.0,
        "colour_rate": 0.02,
        "colour_bins": 16,
        # What runs the search branch on a CPU: onnxruntime (~2x torch's speed there) or torch.
        # On a GPU it is always torch.
        "engine": "onnxruntime",
        # The network's threads (0: one per core). Beside ONNX Runtime, torch's small ops around the
        # network keep to one thread (claim_threads).
        "threads": 1,
    },
}
DEFAULT_CONFIG = os.path.join(CONFIG_DIR, "siamfc.yaml")
# What the tracking values may be, beyond their types (see config.check_rules).
RULES = (
    (("tracking.instance_size", "tracking.exemplar_size"), lambda x, z: z >= 1 and x >= z and (x - z) % TOTAL_STRIDE == 0,
     f"tracking.exemplar_size (1 or more) plus a multiple of {TOTAL_STRIDE}, e.g. 255 with 127"),
    at_least("tracking.context", 0),
    (("tracking.scale_num",), lambda n: n >= 1 and n % 2 == 1, "an odd number, 1 or more, e.g. 3"),
    # A step of 1 would search one scale n times; beyond 2, the side scales see other objects.
    (("tracking.scale_step", "tracking.scale_num"), lambda step, n: n == 1 or 1 < step <= 2,
     "more than 1 and at most 2 when tracking.scale_num is above 1, e.g. 1.0375"),
    between("tracking.scale_penalty", 0, 1),
    between("tracking.scale_lr", 0, 1),
    (("tracking.window_influence",), lambda w: 0 <= w < 1, "0 or more and less than 1, e.g. 0.176"),
    between("tracking.response_up", 1, 64),   # 64: a 1025 px map, already 4 MB a scale
    (("tracking.side_size", "tracking.exemplar_size", "tracking.instance_size"),
     lambda side, z, x: side == 0 or (z <= side <= x and (side - z) % TOTAL_STRIDE == 0),
     f"0, or from tracking.exemplar_size to tracking.instance_size in steps of {TOTAL_STRIDE}, e.g. 143"),
    # The first size is 1x: the range must hold it.
    (("tracking.min_scale",), lambda v: 0 < v <= 1, "more than 0 and at most 1, e.g. 0.2"),
    at_least("tracking.max_scale", 1),
    between("tracking.lost_threshold", 0, 1),
    between("tracking.colour_weight", 0, 1),
    between("tracking.colour_rate", 0, 1),
    between("tracking.colour_bins", 2, 256),   # levels per 8-bit channel
    at_least("tracking.threads", 0),
)


def load_params(path=None):
    return load_config(path or DEFAULT_CONFIG, DEFAULTS, {**CONFIG_CHOICES, ("tracking", "engine"): ENGINES}, RULES)


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


def cubic_upsampler(n, size):
    """The (size, n) matrix A with A @ r @ A.T == cv2.resize(r, (size, size), INTER_CUBIC) for any
    n x n map r: resizing is linear and separable, and two small matrix products are ~2x faster
    than cv2's resize at 17 -> 273."""
    return cv2.resize(np.eye(n, dtype=np.float32), (n, size), interpolation=cv2.INTER_CUBIC)


def check_input_sizes(meta, tracking, path):
    """The network scores well only at the input sizes it was trained at (weights from before
    these were recorded were trained at SiamFC's 127 / 255 px)."""
    trained = meta.get("exemplar_size", 127), meta.get("instance_size", 255)
    asked = tracking["exemplar_size"], tracking["instance_size"]
    if trained != asked:
        raise UserError(f"weights file {path} was trained at exemplar/instance sizes {trained[0]}/{trained[1]} px, "
                        f"but the config tracks at {asked[0]}/{asked[1]}; set tracking.exemplar_size and "
                        "tracking.instance_size to match")


class SiamFCTracker:
    def __init__(self, net, params, device="cpu"):
        check_rules(params, RULES, "the tracking parameters")   # also those set in code, not a file
        self.p = params["tracking"]
        self.device = torch.device(device)
        # channels_last: the layout CPU convolutions run fastest in, and the one HWC crops already have.
        self.net = fuse_batchnorm(net.eval()).to(self.device, memory_format=torch.channels_last)
        p = self.p
        n = p["scale_num"]
        self.scale_factors = p["scale_step"] ** np.linspace(-(n // 2), n // 2, n)
        n_response = self.n_response = self.response_size()
        self.up_size = p["response_up"] * (n_response - 1) + 1
        # Applied with torch, not numpy: numpy's BLAS runs its own threads, which spin on the second
        # core after every product and starve whatever else runs there (torch's second thread,
        # another tracker). torch keeps to the thread count this tracker sets.
        self.upsampler = torch.from_numpy(cubic_upsampler(n_response, self.up_size))
        hann = np.outer(np.hanning(self.up_size), np.hanning(self.up_size))
        self.window = (hann / hann.sum()).astype(np.float32)
        self.blend = np.empty_like(self.window)
        self.response = None
        # Every frame's search crops are warped into these buffers: all scales at full size, or,
        # with two passes, the centre scale at full size and the side scales at side_size.
        size, side = p["instance_size"], p["side_size"] or p["instance_size"]
        self.two_pass = side < size and n > 1
        self.crops = np.empty((1 if self.two_pass else n, size, size, 3), np.uint8)
        self.side_crops = np.empty((n - 1, side, side, 3), np.uint8) if self.two_pass else None
        search = search_branch(self.net.backbone)
        if p["engine"] == "onnxruntime" and self.device.type == "cpu":
            passes = [self.crops[:1], self.side_crops] if self.two_pass else [self.crops]
            self.search = OnnxSearch(search, p["threads"], [crops.shape for crops in passes])
        else:
            self.search = TorchSearch(search, self.device)
        self.mid = n // 2
        self.side_factors = np.delete(self.scale_factors, self.mid)
        # SiamFC multiplies each side scale's peak by its penalty; a negative logit would rise under
        # that, so the penalty takes its share off the magnitude whatever the sign (best_scale).
        self.penalty = np.where(self.scale_factors == 1, 0.0, 1 - p["scale_penalty"])
        # The colour model reads each crop on a second thread while the network runs on it: OpenCV
        # and ONNX Runtime (and torch) let go of Python's lock while they work.
        self.beside = ThreadPoolExecutor(1)

    @classmethod
    def from_files(cls, config=None, weights=None, device="cpu", tracking=None):
        """The tracker a config file describes, with the `tracking` keys given (a dict) overriding its own."""
        params = load_params(config)
        params["tracking"].update(tracking or {})
        if device == "cuda" and not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
        path = weights or params["weights"]
        net, meta = weights_io.load(path, params["model"])
        check_input_sizes(meta, params["tracking"], path)
        tracker = cls(net, params, device)
        tracker.claim_threads()
        return tracker

    def claim_threads(self):
        """Set torch's thread count (process-wide) for this tracker: the config's when torch runs the
        network; one beside ONNX Runtime, which has threads of its own, since torch's correlation and
        upsampling are too small to split and torch's idle threads would wait on the cores ONNX
        Runtime's are using (70 against 129 fps, interleaved on dev)."""
        threads = self.p["threads"] if isinstance(self.search, TorchSearch) else 1
        if threads > 0:
            torch.set_num_threads(threads)

    def response_size(self):
        with torch.inference_mode():
            z = torch.zeros(1, 3, self.p["exemplar_size"], self.p["exemplar_size"], device=self.device)
            x = torch.zeros(1, 3, self.p["instance_size"], self.p["instance_size"], device=self.device)
            return self.net(z, x).shape[-1]

    def init(self, frame, box):
        frame = to_bgr8(frame)
        box = check_box(box, frame.shape)
        cx, cy, w, h = xywh_to_cxcywh(box)
        self.correct(centre=(cx, cy), size=(w, h))
        self.first_x_side = self.x_side
        z_side = context_size(w, h, self.p["context"])
        # Crops reaching outside the frame are padded with the first frame's mean colour, as in
        # SiamFC: recomputing it every frame would cost more than a search crop's warp.
        self.fill = cv2.mean(frame)[:3]
        z = crop(frame, self.center, z_side, self.p["exemplar_size"], self.fill)
        with torch.inference_mode():
            embedding = self.net.embed(crops_as_input(z[None], self.device))
            self.kernel, bias = fold_last_conv(self.net.backbone, embedding)
        self.out_bias = self.net.out_bias.item() + self.net.out_scale * bias
        self.lost = False
        self.colour = self.to_learn = None
        if self.p["colour_weight"] > 0:
            # Learnt against the whole search region: what the target must stand out from.
            x = self.search_crops(frame, np.ones(1), self.crops[:1])[0]
            centre = (self.p["instance_size"] / 2,) * 2
            self.colour = ColourModel(x, centre, self.target_in_crop(1.0), self.p["colour_bins"])
        return box

    def correct(self, centre=None, size=None):
        """Overwrite the tracked centre (cx, cy) and/or size (w, h), e.g. with a user's correction;
        the exemplar stays the first frame's. benchmarks/oracle.py feeds it the ground truth."""
        if centre is not None:
            self.center = np.asarray(centre, dtype=np.float64)
        if size is not None:
            self.size = np.asarray(size, dtype=np.float64)
            p = self.p
            self.x_side = context_size(*self.size, p["context"]) * p["instance_size"] / p["exemplar_size"]

    def update(self, frame):
        frame = to_bgr8(frame)
        if not self.two_pass:
            crops = self.search_crops(frame)
            return self.locate(self.score_maps(crops), frame.shape, crops)
        # The centre scale places the target; the side scales, cut smaller around that place, then
        # only have to say whether it looks bigger or smaller there.
        crops = self.search_crops(frame, self.scale_factors[self.mid:self.mid + 1])
        colour = self.colour and self.beside.submit(self.colour_scores, crops[0], 1.0)
        centre = self.score_maps(crops)[0]
        self.move(centre, 1.0, frame.shape, colour and colour.result())
        side_maps = self.score_maps(self.search_crops(frame, self.side_factors, self.side_crops))
        side = side_maps.reshape(len(side_maps), -1).max(1)
        return self.rescale(np.concatenate([side[:self.mid], [centre.max()], side[self.mid:]]))

    # update()'s steps, apart so that benchmarks/speed.py can time each.

    def search_crops(self, frame, factors=None, out=None):
        """Warp the search region around the target at each scale factor into `out` (by default all
        scales into self.crops); a buffer smaller than instance_size sees a proportionally smaller region."""
        factors = self.scale_factors if factors is None else factors
        out = self.crops if out is None else out
        size = out.shape[1]
        sides = self.x_side * factors * size / self.p["instance_size"]
        # One shrink serves every scale: after the largest's, none shrinks more than 2x.
        region, center, side = shrink_around(frame, self.center, sides.max(), size)
        for s, crop_ in zip(sides * (side / sides.max()), out):
            warp_square(region, center, s, size, self.fill, crop_)
        return out

    def score_maps(self, crops):
        """The response logits of the search crops, one map per crop."""
        with torch.inference_mode():
            maps = xcorr_one(self.kernel, self.search(crops))
        return maps * self.net.out_scale + self.out_bias

    def locate(self, maps, frame_shape, crops):
        """Move the target to the best response, damping the scale change; returns (box, score)."""
        peaks = maps.reshape(len(maps), -1).max(1)
        i = self.best_scale(peaks)
        colour = self.colour and self.colour_scores(crops[i], self.scale_factors[i])
        self.move(maps[i], self.scale_factors[i], frame_shape, colour)
        return self.rescale(peaks)

    def best_scale(self, peaks):
        return int(np.argmax(peaks - self.penalty * np.abs(peaks)))

    def target_in_crop(self, scale):
        """The target's (w, h) in the pixels of a crop searched at `scale`."""
        return self.size * self.p["instance_size"] / (self.x_side * scale)

    def colour_scores(self, crop, scale):
        """The pixels of `crop` (searched at `scale`) that the colour model reads, and its score map
        on the response's grid, after learning from the last frame if move() left it something."""
        if self.to_learn is not None:
            self.colour.update(*self.to_learn, self.p["colour_rate"])
            self.to_learn = None
        pixels = self.colour.sample(crop)
        n = self.n_response
        reach = (n - 1) // 2 * TOTAL_STRIDE
        return pixels, self.colour.score_map(pixels, crop.shape[0], self.target_in_crop(scale), reach, n)

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
        r = (self.upsampler @ torch.from_numpy(response) @ self.upsampler.T).numpy()
        self.response = r
        if flat:
            # A crop of padding only (the target far outside the frame) gives a flat map, which
            # upsampling's rounding would turn into a random move once normalised.
            return
        # SiamFC's blend, (1 - w) * m / sum(m) + w * window with m = r - min(r), times
        # sum(m) / (1 - w) and less the constant min(r): the same argmax in fewer passes over the map.
        w = p["window_influence"]
        np.multiply(self.window, w / (1 - w) * (r.sum() - r.min() * r.size), out=self.blend)
        self.blend += r
        y, x = np.unravel_index(np.argmax(self.blend), r.shape)
        disp = (np.array([x, y]) - (self.up_size - 1) / 2) * TOTAL_STRIDE / p["response_up"]
        self.center = self.center + disp * self.x_side * scale / p["instance_size"]
        h, w = frame_shape[:2]
        self.center = np.clip(self.center, 0, [w, h])
        # Learning from a frame where the target may be lost would teach the model the background.
        # The next colour_scores learns it, on the colour model's thread.
        if colour is not None and score_of(peak) >= p["lost_threshold"]:
            self.to_learn = pixels, p["instance_size"] / 2 + disp, self.target_in_crop(scale)

    def rescale(self, peaks):
        """Take a damped step towards the best scale; returns (box, score)."""
        p = self.p
        i = self.best_scale(peaks)
        step = (1 - p["scale_lr"]) + p["scale_lr"] * self.scale_factors[i]
        x_side = min(max(self.x_side * step, p["min_scale"] * self.first_x_side), p["max_scale"] * self.first_x_side)
        step = x_side / self.x_side
        self.size = self.size * step
        self.x_side *= step
        score = score_of(peaks[i])
        self.lost = bool(score < p["lost_threshold"])
        return cxcywh_to_xywh([*self.center, *self.size]), float(score)

    def track(self, frames, box):
        """Yield (box, score, lost) for every frame; the first frame yields the given box."""
        frames = iter(frames)
        yield np.asarray(self.init(next(frames), box)), 1.0, False
        for frame in frames:
            box, score = self.update(frame)
            yield box, score, self.lost

