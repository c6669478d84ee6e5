"""Draw the tracker's output on a frame: box, score, frame number, trail, response map; or several
targets' boxes, each in a colour of its own with its id."""

import cv2
import numpy as np

GREEN = (0, 255, 0)  # BGR, like the frames
RED = (0, 0, 255)
YELLOW = (0, 255, 255)
WHITE = (255, 255, 255)
# cv2 draws in fixed point with 16 fractional bits, so far-away points would overflow.
FAR = 30000
# Target 1, 2, ...'s colours (BGR), apart in hue and bright on dark and light scenes; then again.
TARGET_COLOURS = ((0, 255, 0), (255, 160, 0), (255, 0, 255), (0, 200, 255), (255, 255, 0), (0, 0, 255), (160, 80, 255))


def draw(frame, box, score, index, trail=None, lost=False, heatmap=None):
    """A copy of `frame` with the box (green; red and dashed when lost), the frame number
    and score as text, the recent centres in `trail` (oldest first) fading out, and the
    response map `heatmap` as an inset in the top-right corner, its peak marked with a cross."""
    out = frame.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(min(height, width) / 240))
    if trail is not None and len(trail) > 1:
        _draw_trail(out, np.asarray(trail, float), thickness, YELLOW)
    if np.all(np.isfinite(box)):
        _draw_box(out, box, RED if lost else GREEN, thickness, dashed=lost)
    if heatmap is not None:
        _draw_inset(out, heatmap)
    label = f"frame {index}" if score is None else f"frame {index}  score {score:.2f}"
    _draw_label(out, label + ("  lost" if lost else ""))
    return out


def draw_targets(frame, boxes, scores, index, trails=None, lost=None):
    """A copy of `frame` with each target's box in its colour (TARGET_COLOURS: target 1's first),
    dashed when lost, tagged with its id and score; each trail (a list of recent centres per
    target) in the target's colour; the frame number as text. `scores` and `index` None: boxes only."""
    out = frame.copy()
    thickness = max(1, round(min(out.shape[:2]) / 240))
    for i, box in enumerate(boxes):
        colour = TARGET_COLOURS[i % len(TARGET_COLOURS)]
        gone = bool(lost is not None and lost[i])
        if trails is not None and len(trails[i]) > 1:
            _draw_trail(out, np.asarray(trails[i], float), thickness, colour)
        if np.all(np.isfinite(box)):
            _draw_box(out, box, colour, thickness, dashed=gone)
            tag = f"{i + 1}" if scores is None else f"{i + 1}: {scores[i]:.2f}" + (" lost" if gone else "")
            _draw_tag(out, box, tag, colour)
    if index is not None:
        _draw_label(out, f"frame {index}")
    return out


def _draw_box(img, box, colour, thickness, dashed):
    height, width = img.shape[:2]
    x, y, w, h = box
    if x + w <= 0 or y + h <= 0 or x >= width or y >= height:
        return
    # Clamp just beyond the borders: the off-frame edges stay off-frame and coordinates stay small.
    margin = thickness + 1
    x0, x1 = np.clip(np.round([x, x + w - 1]), -margin, width - 1 + margin).astype(int)
    y0, y1 = np.clip(np.round([y, y + h - 1]), -margin, height - 1 + margin).astype(int)
    if not dashed:
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, thickness)
        return
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    for p, q in zip(corners, corners[1:]):
        _draw_dashes(img, np.array(p), np.array(q), colour, thickness, dash=4 * thickness + 2)


def _draw_dashes(img, p, q, colour, thickness, dash):
    length = max(np.abs(q - p).max(), 1)
    for start in range(0, length, 2 * dash):
        a = p + (q - p) * start // length
        b = p + (q - p) * min(start + dash, length) // length
        cv2.line(img, tuple(a.tolist()), tuple(b.tolist()), colour, thickness)


def _draw_trail(img, centres, thickness, colour):
    points = np.clip(np.round(centres), -FAR, FAR)
    count = len(points) - 1
    for age, (p, q) in enumerate(zip(points, points[1:])):
        if np.all(np.isfinite([p, q])):
            # Older segments are darker, so the trail fades into the past.
            weight = (age + 1) / count
            faded = tuple(round(c * weight) for c in colour)
            cv2.line(img, tuple(p.astype(int)), tuple(q.astype(int)), faded, thickness)


def _draw_inset(img, heatmap):
    height, width = img.shape[:2]
    side = min(height, width) // 4
    if side < 2:
        return
    values = np.nan_to_num(np.asarray(heatmap, np.float32))
    span = values.max() - values.min()
    scaled = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    colours = cv2.applyColorMap(np.round(scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    inset = img[:side, width - side :]
    inset[:] = cv2.resize(colours, (side, side), interpolation=cv2.INTER_LINEAR)
    # The peak is where the response points; the tracker moves there, less its cosine window's pull.
    row, col = np.unravel_index(np.argmax(values), values.shape)
    centre = (round((col + 0.5) * side / values.shape[1]), round((row + 0.5) * side / values.shape[0]))
    cv2.drawMarker(inset, centre, WHITE, cv2.MARKER_CROSS, max(side // 6, 3), max(1, side // 60))


def _draw_label(img, text):
    scale = max(0.3, min(img.shape[:2]) / 800)
    thickness = max(1, round(scale * 2))
    (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    # A dark backing keeps the text readable on bright frames.
    cv2.rectangle(img, (0, 0), (w + 8, h + baseline + 8), (0, 0, 0), cv2.FILLED)
    cv2.putText(img, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE, thickness, cv2.LINE_AA)


def _draw_tag(img, box, text, colour):
    """`text` on a patch of `colour` just above the box's top-left corner, kept inside the frame."""
    height, width = img.shape[:2]
    scale = max(0.3, min(height, width) / 1000)
    (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = int(np.clip(box[0], 0, max(width - w - 4, 0)))
    y = int(np.clip(box[1] - h - baseline - 4, 0, max(height - h - baseline - 4, 0)))
    cv2.rectangle(img, (x, y), (x + w + 4, y + h + baseline + 4), colour, cv2.FILLED)
    cv2.putText(img, text, (x + 2, y + h + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
