"""A colour model of the target against its surroundings, as in Staple and DAT.

SiamFC's embedding is learnt from 50 sequences and often scores a look-alike as high as the target;
the colours that set this target apart from its own search region are cheap to learn online and
pick between such peaks. Coordinates are continuous pixels of a square search crop; the model
sees every `step`-th pixel of it: colour statistics need no finer grain, and that is a quarter of the pixels.
"""

import cv2
import numpy as np

RANGES = [0, 256] * 3


def box_slices(center, size, shape):
    """Row and column slices of the pixels whose centres fall inside the box, clipped to `shape`."""
    # Pixel i's centre is i + 0.5: it is inside [a, b) when ceil(a - 0.5) <= i < ceil(b - 0.5).
    lo = np.ceil(np.asarray(center) - np.asarray(size) / 2 - 0.5).astype(int)
    hi = np.ceil(np.asarray(center) + np.asarray(size) / 2 - 0.5).astype(int)
    (x0, y0), (x1, y1) = np.maximum(lo, 0), np.minimum(hi, shape[1::-1])
    return slice(y0, max(y1, y0 + 1)), slice(x0, max(x1, x0 + 1))


def histograms(img, center, size, bins):
    """Normalised colour histograms (`bins` levels per channel, indexed by the image's channels in
    order) of the box (foreground) and of the rest of the image (background)."""
    fg = cv2.calcHist(
        [np.ascontiguousarray(img[box_slices(center, size, img.shape)])], [0, 1, 2], None, [bins] * 3, RANGES
    )
    bg = cv2.calcHist([img], [0, 1, 2], None, [bins] * 3, RANGES) - fg
    return fg / max(fg.sum(), 1), bg / max(bg.sum(), 1)


def likelihood(fg, bg):
    """Per bin, how likely a pixel of that colour is the target's: fg / (fg + bg), 0.5 if unseen."""
    # The tiny prior, far under any seen colour's share, only decides the unseen ones.
    return (fg + 1e-7) / (fg + bg + 2e-7)


class ColourModel:
    def __init__(self, crop, center, size, bins, step=2):
        """The model of the `size` box at `center` against the rest of a search crop."""
        self.bins, self.step = bins, step
        # Every frame's crop has the init crop's size: its step-th pixels go to one buffer.
        n = -(-crop.shape[0] // step)
        self.pixels = np.empty((n, n, 3), np.uint8)
        self.every_step = np.array([[step, 0, 0], [0, step, 0]], np.float64)
        self.fg, self.bg = histograms(self.sample(crop), *self.to_model(center, size), bins)
        self.lik = likelihood(self.fg, self.bg)

    def sample(self, crop):
        """Every step-th pixel of the crop, in the model's own buffer (the next call overwrites it):
        what the model reads; pass it to score_map and update."""
        if self.step == 1:
            np.copyto(self.pixels, crop)
            return self.pixels
        return cv2.warpAffine(
            crop, self.every_step, self.pixels.shape[1::-1], self.pixels, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
        )

    def to_model(self, center, *sizes):
        # Model pixel j is crop pixel step * j, whose centre is at crop coordinate step * j + 0.5.
        return (
            (np.asarray(center, np.float64) - 0.5) / self.step + 0.5,
            *(np.asarray(s, np.float64) / self.step for s in sizes),
        )

    def score_map(self, img, crop_size, size, reach, out_size):
        """Mean target likelihood inside a `size` box centred at each offset from the crop's centre
        within +-`reach` px, sampled on an `out_size` x `out_size` grid (the response map's)."""
        # A 3-D array reaches OpenCV as a 2-D image with channels unless wrapped as one 3-D Mat.
        # The back-projection has the image's 8 bits: 0-255 for 0-1.
        lik = cv2.calcBackProject([img], [0, 1, 2], cv2.Mat(self.lik, wrap_channels=False), RANGES, 255)
        # An odd kernel, so that each mean is centred on its pixel, no larger than the box.
        k = np.maximum(2 * np.ceil(np.asarray(size) / self.step / 2).astype(int) - 1, 1)
        mean = cv2.boxFilter(lik, cv2.CV_32F, (int(k[0]), int(k[1])), borderType=cv2.BORDER_REPLICATE)
        mean *= 1 / 255
        # Grid point i lies at offset -reach + i * 2 reach / (out_size - 1) from the crop's centre.
        a = 2 * reach / (out_size - 1) / self.step
        b = self.to_model((crop_size / 2 - reach,) * 2)[0][0] - 0.5
        m = np.array([[a, 0, b], [0, a, b]])
        return cv2.warpAffine(
            mean,
            m,
            (out_size, out_size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def update(self, img, center, size, rate):
        fg, bg = histograms(img, *self.to_model(center, size), self.bins)
        self.fg = (1 - rate) * self.fg + rate * fg
        self.bg = (1 - rate) * self.bg + rate * bg
        self.lik = likelihood(self.fg, self.bg)
