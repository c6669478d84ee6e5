"""Box and crop geometry.

Boxes are x, y, w, h in continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1),
so a box's centre is (x + w/2, y + h/2) and the first pixel's centre is (0.5, 0.5).
"""
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


def crop(frame, center, side, out_size, fill, out=None):
    """Square crop resampled straight to network size; parts outside the frame take `fill`.

    `out`, an out_size x out_size uint8 array like the frame's pixels, receives the crop if given.
    """
    center = np.asarray(center, dtype=np.float64)
    if side > 2 * out_size:
        # A bilinear warp aliases when shrinking a lot; shrink by area averaging first.
        f = 2 * out_size / side
        small = cv2.resize(frame, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / frame.shape[1], small.shape[0] / frame.shape[0]
        frame, center, side = small, center * (fx, fy), side * (fx + fy) / 2
    m = crop_matrix(center, side, out_size)
    return cv2.warpAffine(frame, m, (out_size, out_size), out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in fill))
