"""Box and crop geometry.

Boxes are x, y, w, h in continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1),
so a box's centre is (x + w/2, y + h/2) and the first pixel's centre is (0.5, 0.5).
"""

import math

import cv2
import numpy as np


def xywh_to_cxcywh(box):
    x, y, w, h = np.asarray(box, dtype=np.float64)
    return np.array([x + w / 2, y + h / 2, w, h])


def cxcywh_to_xywh(box):
    cx, cy, w, h = np.asarray(box, dtype=np.float64)
    return np.array([cx - w / 2, cy - h / 2, w, h])


def context_size(w, h, context=0.5):
    """Side of the square exemplar region: the target plus `context` of its perimeter (SiamFC)."""
    pad = context * (w + h)
    return np.sqrt((w + pad) * (h + pad))


def crop_matrix(center, side, out_size):
    """Affine map taking the square of `side` px centred on `center` onto an `out_size` px image."""
    s = out_size / side
    # warpAffine works on pixel-centre coordinates, hence the half-pixel terms.
    tx = s * (0.5 - center[0]) + out_size / 2 - 0.5
    ty = s * (0.5 - center[1]) + out_size / 2 - 0.5
    return np.array([[s, 0, tx], [0, s, ty]], dtype=np.float64)


def shrink_around(frame, center, side, out_size):
    """The frame around a square crop, area-averaged down by a whole factor so that the crop then
    shrinks at most 2x to `out_size` (a bilinear warp aliases beyond that), with the crop's centre
    and side in its pixels.

    A crop that needs no shrinking comes back as it is. Only the crop's neighbourhood is shrunk:
    on a large frame, shrinking it all would cost more than the network. A whole factor because
    OpenCV's area resize then just averages blocks, ~20x faster than at any other factor.
    """
    center = np.asarray(center, dtype=np.float64)
    if side <= 2 * out_size:
        return frame, center, side
    k = int(np.ceil(side / (2 * out_size)))
    # Two pixels of the shrunk image beyond the square: as far as the bilinear taps can reach.
    margin = 2 * k
    lo = np.maximum(np.floor(center - side / 2 - margin), 0).astype(int)
    hi = np.minimum(np.ceil(center + side / 2 + margin), frame.shape[1::-1]).astype(int)
    # Whole blocks of k pixels: the far edge moves out, or in where the frame ends.
    n = -(-(hi - lo) // k)
    n = np.where(lo + n * k > frame.shape[1::-1], (hi - lo) // k, n)
    if np.any(n < 1):
        return frame, center, side  # the crop misses the frame: all of it takes the fill colour
    (x0, y0), (x1, y1) = lo, lo + n * k
    small = cv2.resize(frame[y0:y1, x0:x1], tuple(n.tolist()), interpolation=cv2.INTER_AREA)
    return small, (center - lo) / k, side / k


def warp_square(frame, center, side, out_size, fill, out=None):
    """The square of `side` px centred on `center`, resampled bilinearly to `out_size` px; parts
    outside the frame take `fill`. `out`, an out_size x out_size uint8 array with the frame's
    channels, receives it if given."""
    m = crop_matrix(center, side, out_size)
    return cv2.warpAffine(
        frame,
        m,
        (out_size, out_size),
        out,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in fill),
    )


def crop(frame, center, side, out_size, fill, out=None):
    """Square crop resampled straight to network size; parts outside the frame take `fill`.

    `out`, an out_size x out_size uint8 array with the frame's channels, receives the crop if given.
    """
    frame, center, side = shrink_around(frame, center, side, out_size)
    return warp_square(frame, center, side, out_size, fill, out)


def tile_centres(width, height, reach):
    """Centres of the fewest tiles on a regular grid whose squares of side `reach` cover a
    width x height frame, row by row."""
    nx, ny = max(math.ceil(width / reach), 1), max(math.ceil(height / reach), 1)
    return [((i + 0.5) * width / nx, (j + 0.5) * height / ny) for j in range(ny) for i in range(nx)]
