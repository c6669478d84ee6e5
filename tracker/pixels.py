"""Any decoded image as the 8-bit BGR frames the tracker and the video writer work in; numpy and
OpenCV only, so that the tracker takes numpy frames without the video readers' PyAV."""

import cv2
import numpy as np

from .errors import UserError


def to_bgr8(img):
    """Any decoded image as uint8 HxWx3 BGR.

    Wider unsigned integers keep their high byte (16-bit: >> 8) rather than being
    stretched per image, so brightness doesn't flicker along a sequence. Floats are
    taken as 0..1. Gray is repeated into three channels; alpha is dropped.
    """
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.dtype.kind == "u" and img.dtype.itemsize > 1:
        img = (img >> (8 * img.dtype.itemsize - 8)).astype(np.uint8)
    elif img.dtype.kind == "f":
        img = np.round(np.clip(np.nan_to_num(img), 0, 1) * 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise UserError(f"unsupported image type {img.dtype}; convert the frames to 8- or 16-bit images")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img[:, :, :3])
