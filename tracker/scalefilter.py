"""DSST's scale filter (Danelljan et al. 2014): the target's scale from one 1-D correlation filter.

The box is sampled at `num` scales around its current size, each sample resized to one small
model size and described by gradient-orientation histograms; the filter, learnt online over the
scale axis, scores every scale at once. It costs a few small warps per frame, where SiamFC's own
scale search runs the network on three search regions instead of one.
"""
import functools

import cv2
import numpy as np


BINS = 9
CELL = 4


def model_shape(w, h, area):
    """(width, height) of the scale samples: the box's aspect, about `area` pixels, whole cells."""
    f = np.sqrt(area / (w * h))
    mw, mh = (max(CELL, int(round(v * f / CELL)) * CELL) for v in (w, h))
    return mw, mh


def gray_region(frame, corner, extent, scale):
    """The frame's pixels in the box at `corner` of `extent` (clipped to the frame), in gray float32,
    area-averaged down by `scale` if it is under 1; with the region's origin in frame pixels and the
    factor applied. Only the region is converted: on a large frame, all of it would cost more."""
    h, w = frame.shape[:2]
    x0, y0 = np.clip(np.floor(corner).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(corner + extent).astype(int), [x0 + 1, y0 + 1], [w, h])
    roi = frame[y0:y1, x0:x1]
    f = 1.0
    if scale < 1:
        size = np.maximum(np.round(np.array(roi.shape[1::-1]) * scale), 1).astype(int)
        f = size / roi.shape[1::-1]
        roi = cv2.resize(roi, tuple(size.tolist()), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
    return gray.astype(np.float32), np.array([x0, y0], np.float64), f


def gradient_histograms(patches):
    """Per CELL x CELL cell of each gray patch (S, h, w): 9 unsigned-orientation bins of gradient
    magnitude, L2-normalised per cell, and the cell's mean intensity; flattened to (S, d)."""
    s, h, w = patches.shape
    p = np.pad(patches, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = p[:, 1:-1, 2:] - p[:, 1:-1, :-2]
    gy = p[:, 2:, 1:-1] - p[:, :-2, 1:-1]
    mag, angle = cv2.cartToPolar(gx.reshape(s, -1), gy.reshape(s, -1))
    orientation = (angle * (BINS / np.pi)).astype(np.int64) % BINS
    cells = cell_index(s, h, w)
    hist = np.bincount((cells * BINS + orientation.reshape(cells.shape)).ravel(), mag.ravel(),
                       cells.size // (CELL * CELL) * BINS).reshape(s, -1, BINS)
    hist /= np.sqrt((hist ** 2).sum(-1, keepdims=True)) + 1.0
    mean = patches.reshape(s, h // CELL, CELL, w // CELL, CELL).mean((2, 4)).reshape(s, -1, 1) / 255 - 0.5
    return np.concatenate([hist, mean], -1).reshape(s, -1)


@functools.lru_cache(maxsize=4)
def cell_index(s, h, w):
    """The cell number of every pixel of S patches of h x w, numbered across the patches."""
    y, x = np.mgrid[:h, :w] // CELL
    per_patch = y * (w // CELL) + x
    return (np.arange(s)[:, None, None] * (h // CELL) * (w // CELL) + per_patch).astype(np.int64)


class ScaleFilter:
    def __init__(self, num=33, step=1.02, area=512, lr=0.025, reg=0.01, sigma=0.25):
        self.num, self.step, self.area, self.lr, self.reg = num, step, area, lr, reg
        n = np.arange(num) - num // 2
        self.factors = step ** -n  # largest first, as in DSST
        self.gauss = np.exp(-0.5 * (n / (sigma * np.sqrt(num))) ** 2)
        self.window = np.hanning(num)[:, None]

    def samples(self, frame, center, size):
        """FFT over the scales of the windowed features of the box at every scale: (num, d)."""
        mw, mh = self.shape
        size = np.asarray(size, np.float64)
        big = size * self.factors[0]
        region, origin, f = gray_region(frame, center - big / 2 - 2, big + 4, 2 * max(mw, mh) / big.max())
        c = (center - origin) * f
        # All the samples in one remap: pixel j of a sample at scale s reads the region at
        # c + (j + 0.5 - m/2) * s * size * f / m, in pixel-centre coordinates as in geometry.crop_matrix.
        step = self.factors[:, None] * size * f / (mw, mh)
        map_x = c[0] - 0.5 + (np.arange(mw) + 0.5 - mw / 2) * step[:, :1]
        map_y = c[1] - 0.5 + (np.arange(mh) + 0.5 - mh / 2) * step[:, 1:]
        map_x = np.broadcast_to(map_x[:, None, :], (self.num, mh, mw)).reshape(-1, mw).astype(np.float32)
        map_y = np.broadcast_to(map_y[:, :, None], (self.num, mh, mw)).reshape(-1, mw).astype(np.float32)
        patches = cv2.remap(region, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.fft.fft(gradient_histograms(patches.reshape(self.num, mh, mw)) * self.window, axis=0)

    def learn(self, x, peak, rate):
        """Blend in the filter that maps samples `x` to a Gaussian centred on scale index `peak`."""
        label = np.conj(np.fft.fft(np.roll(self.gauss, peak - self.num // 2)))[:, None]
        self.num_ = (1 - rate) * self.num_ + rate * label * x if rate < 1 else label * x
        den = (np.abs(x) ** 2).sum(1)
        self.den = (1 - rate) * self.den + rate * den if rate < 1 else den

    def init(self, gray, center, size):
        self.shape = model_shape(*size, self.area)
        self.learn(self.samples(gray, center, size), self.num // 2, 1.0)

    def estimate(self, gray, center, size):
        """The target's scale against `size`, at the peak of the filter's response; the filter then
        learns from the same samples, with the label on that peak (as if resampled at the new size)."""
        x = self.samples(gray, center, size)
        response = np.fft.ifft((np.conj(self.num_) * x).sum(1) / (self.den + self.reg)).real
        peak = int(np.argmax(response))
        self.learn(x, peak, self.lr)
        return float(self.factors[peak])
