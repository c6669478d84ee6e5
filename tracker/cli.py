"""The command line: track a video (the default), benchmark trackers, train the network."""
import argparse
import collections
import contextlib
import json
import os
import signal
import sys

import numpy as np

from .errors import UserError, stdout_closed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "videos", "bunny.mp4")
TRAIL = 20  # frames of trajectory drawn behind the box


def parse_bbox(text):
    parts = text.replace(" ", "").split(",")
    try:
        box = [float(p) for p in parts]
    except ValueError:
        box = []
    if len(box) != 4:
        raise UserError(f"--bbox {text!r} is malformed; give four numbers X,Y,W,H, e.g. --bbox 120,80,40,60")
    return box


def clip_box(box, frame_shape):
    """The part of `box` inside the frame; errors for boxes with no such part or no size."""
    from .siamfc import check_box
    x, y, w, h = check_box(box, frame_shape)
    fh, fw = frame_shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    if (x0, y0, x1, y1) != (x, y, x + w, y + h):
        print(f"warning: box {box} is partly outside the {fw}x{fh} frame; clipped to "
              f"{x0:g},{y0:g},{x1 - x0:g},{y1 - y0:g}", file=sys.stderr)
    return [x0, y0, x1 - x0, y1 - y0]


def write_boxes(f, path, results):
    """x,y,w,h lines like groundtruth.txt, or JSON with scores and lost flags for a .json path."""
    if path.lower().endswith(".json"):
        json.dump({"frames": [{"frame": i, "box": [round(float(v), 2) for v in b], "score": round(s, 4),
                               "lost": lost} for i, (b, s, lost) in enumerate(results)]}, f, indent=1)
    else:
        f.writelines(",".join(f"{v:.2f}" for v in b) + "\n" for b, _, _ in results)


@contextlib.contextmanager
def ctrl_c_flag():
    """A list that Ctrl-C appends to instead of raising: tracking stops between frames, so the video
    and the box file end on the same frame. A second Ctrl-C raises as usual."""
    pressed = []

    def on_ctrl_c(signum, frame):
        pressed.append(signum)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def track(args):
    from .annotate import draw
    from .display import Window, select_box
    from .fileio import atomic_write
    from .progress import Progress
    from .siamfc import SiamFCTracker
    from .video import VideoWriter, open_source

    results, stopped = [], None
    with open_source(args.source) as source, contextlib.ExitStack() as outputs:
        frames = iter(source)
        first = next(frames)
        box = clip_box(select_box(first) if args.select else parse_bbox(args.bbox), first.shape)
        tracker = SiamFCTracker.from_files(args.config, args.weights, args.device)
        interrupted = outputs.enter_context(ctrl_c_flag())
        # Both outputs are opened before tracking, so an unwritable path fails now rather than after
        # the whole video; they are kept when tracking ends or stops, and deleted if something breaks.
        boxes = outputs.enter_context(atomic_write(args.boxes)) if args.boxes else None
        writer = outputs.enter_context(VideoWriter(args.output, source.fps)) if args.output else None
        window = Window() if args.show else None
        progress = Progress("tracking", source.count)
        trail = collections.deque(maxlen=TRAIL)
        frame = first
        try:
            while frame is not None and not interrupted:
                if results:
                    b, score = tracker.update(frame)
                    lost = tracker.lost
                else:
                    b, score, lost = np.asarray(tracker.init(frame, box)), 1.0, False
                results.append((b, score, lost))
                trail.append((b[0] + b[2] / 2, b[1] + b[3] / 2))
                if writer or window:
                    heat = tracker.response if args.heatmap and len(results) > 1 else None
                    picture = draw(frame, b, score, len(results) - 1, list(trail), lost, heat)
                    if writer:
                        writer.write(picture)
                    if window and not window.show(picture):
                        break
                progress.update(note="  LOST" if lost else "")
                frame = next(frames, None)
        except UserError as e:  # the video stopped decoding: keep what was tracked
            stopped = str(e)
        finally:
            progress.close()
            if window:
                window.close()
        if interrupted:
            stopped = f"interrupted at frame {len(results)}"
        if boxes:
            write_boxes(boxes, args.boxes, results)
    for path in (args.output, args.boxes):
        if path:
            print(f"wrote {path} ({len(results)} frames)")
    if stopped:
        raise UserError(f"{stopped}; the outputs hold the {len(results)} frames tracked before it")


def demo_args():
    with open(os.path.splitext(DEMO)[0] + ".txt") as f:
        bbox = f.read().strip()
    return ["track", DEMO, "--bbox", bbox, "--output", os.path.join("runs", "demo", "bunny_tracked.mp4"),
            "--boxes", os.path.join("runs", "demo", "bunny_tracked.txt")]


def parser():
    p = argparse.ArgumentParser(prog="run_tracker.py", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("track", help="track one object through a video, a folder of frames or a camera")
    t.add_argument("source", help="video file, folder of frames (sorted by name) or camera index")
    pick = t.add_mutually_exclusive_group(required=True)
    pick.add_argument("--bbox", help="the target in the first frame: X,Y,W,H in pixels "
                      "(write --bbox=X,Y,W,H when X is negative)")
    pick.add_argument("--select", action="store_true", help="draw the box on the first frame")
    t.add_argument("--output", help="annotated video to write (.mp4, H.264)")
    t.add_argument("--boxes", help="boxes to write: .txt (x,y,w,h per frame) or .json (with scores)")
    t.add_argument("--show", action="store_true", help="show the tracking live in a window")
    t.add_argument("--heatmap", action="store_true", help="inset the response map in the annotated video")
    add_model_arguments(t)

    b = sub.add_parser("benchmark", help="run trackers over a dataset and report the standard metrics")
    from .benchmark import add_arguments
    add_arguments(b)

    r = sub.add_parser("train", help="train the network on sequences and still images")
    r.add_argument("--config", default=os.path.join(ROOT, "configs", "train.yaml"), help="training config YAML")
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the config's out")
    r.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default cpu)")
    return p


def add_model_arguments(p):
    p.add_argument("--config", help="tracker config YAML (default configs/siamfc.yaml)")
    p.add_argument("--weights", help="weights file (default: the config's, shipped in tracker/weights/)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default cpu)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv or demo_args())
    try:
        if args.command == "track":
            if not (args.output or args.boxes or args.show):
                raise UserError("nothing to write: give --output FILE.mp4, --boxes FILE.txt or --show")
            track(args)
        elif args.command == "benchmark":
            from .benchmark import main as benchmark
            return benchmark(args)
        else:
            from .train import train
            train(args.config, args.resume, args.device)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        stdout_closed()
    return 0
