"""The command line: track a video (the default), benchmark trackers, train the network."""

import argparse
import collections
import contextlib
import errno
import itertools
import json
import os
import signal
import sys

from . import __version__
from .config import CONFIG_DIR, shipped, shipped_configs
from .errors import USER_ERROR_EXIT, UserError, stdout_closed

DEMO = os.path.join(shipped("videos"), "bunny.mp4")
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
        print(
            f"warning: box {box} is partly outside the {fw}x{fh} frame; clipped to "
            f"{x0:g},{y0:g},{x1 - x0:g},{y1 - y0:g}",
            file=sys.stderr,
        )
    return [x0, y0, x1 - x0, y1 - y0]


def write_boxes(f, path, results):
    """x,y,w,h lines like groundtruth.txt, or JSON with scores and lost flags for a .json path."""
    if path.lower().endswith(".json"):
        json.dump(
            {
                "frames": [
                    {"frame": i, "box": [round(float(v), 2) for v in b], "score": round(s, 4), "lost": lost}
                    for i, (b, s, lost) in enumerate(results)
                ]
            },
            f,
            indent=1,
        )
    else:
        f.writelines(",".join(f"{v:.2f}" for v in b) + "\n" for b, _, _ in results)


def overwrites_input(path, source):
    """Whether writing `path` would change the input: the source file itself (under any name), or
    an image in the source folder, which would replace or add a frame."""
    from .video import IMAGE_EXTENSIONS

    if os.path.isdir(source):
        folder = os.path.dirname(os.path.abspath(path))
        return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS and os.path.realpath(folder) == os.path.realpath(
            source
        )
    return os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source)


def check_outputs(args):
    """Refuse, before any work, output paths that would destroy the input or each other, or that
    are not files of the kind written there."""
    for flag, path, example in (("--output", args.output, "tracked.mp4"), ("--boxes", args.boxes, "boxes.txt")):
        if not path:
            continue
        if path.endswith(("/", os.sep)) or os.path.isdir(path):
            raise UserError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
        if overwrites_input(path, args.source):
            raise UserError(f"{flag} {path} would overwrite the input {args.source}; give another file name")
    if args.output and args.boxes and os.path.realpath(args.output) == os.path.realpath(args.boxes):
        raise UserError(f"--output and --boxes are both {args.output}; give them different file names")
    if args.output and os.path.splitext(args.output)[1].lower() != ".mp4":
        raise UserError(
            f"--output {args.output}: the annotated video is written as H.264 MP4; give a file name ending in .mp4"
        )


DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # no space, or none left in the user's quota
# What a user or the system sends to stop a command: Ctrl-C, kill, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


@contextlib.contextmanager
def on_stop_signals(handler):
    """`handler` for each stop signal while the block runs, but for those ignored (nohup ignores
    SIGHUP, a background shell job SIGINT): those stay ignored."""
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s, h in previous.items():
        if h != signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield previous
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def stop_flag():
    """A list that a stop signal appends to instead of raising: tracking stops between frames, so
    the video and the box file end on the same frame. A second one raises as before."""
    stopped = []

    def on_stop(signum, frame):
        stopped.append(signum)
        for s, h in previous.items():
            signal.signal(s, h)

    with on_stop_signals(on_stop) as previous:
        yield stopped


def track(args):
    from .annotate import draw
    from .build import build_tracker
    from .display import Window, select_box
    from .fileio import atomic_write, remove_stale_temporaries
    from .interface import track as steps
    from .progress import Progress
    from .video import VideoWriter, open_source

    check_outputs(args)
    for path in (args.output, args.boxes):
        if path:  # what a killed run left there
            remove_stale_temporaries(os.path.dirname(os.path.abspath(path)))
    results, stopped = [], None
    with open_source(args.source) as source, contextlib.ExitStack() as outputs:
        frames = iter(source)
        first = next(frames)
        box = clip_box(select_box(first) if args.select else parse_bbox(args.bbox), first.shape)
        tracker = outputs.enter_context(build_tracker(args.config, args.weights, args.device))
        interrupted = outputs.enter_context(stop_flag())
        # Both outputs are opened before tracking, so an unwritable path fails now rather than after
        # the whole video; they are kept when tracking ends or stops, and deleted if something breaks.
        boxes = outputs.enter_context(atomic_write(args.boxes)) if args.boxes else None
        writer = outputs.enter_context(VideoWriter(args.output, source.fps)) if args.output else None
        window = Window() if args.show else None
        progress = Progress("tracking", source.count)
        trail = collections.deque(maxlen=TRAIL)
        try:
            for b, score, lost, _, frame in steps(tracker, itertools.chain([first], frames), box):
                if interrupted:
                    break
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
    return [
        "track",
        DEMO,
        "--bbox",
        bbox,
        "--output",
        os.path.join("runs", "demo", "bunny_tracked.mp4"),
        "--boxes",
        os.path.join("runs", "demo", "bunny_tracked.txt"),
    ]


def parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--version", action="version", version=f"siamtrack {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("track", help="track one object through a video, a folder of frames or a camera")
    t.add_argument("source", help="video file, folder of frames (sorted by name) or camera index")
    pick = t.add_mutually_exclusive_group(required=True)
    pick.add_argument(
        "--bbox", help="the target in the first frame: X,Y,W,H in pixels (write --bbox=X,Y,W,H when X is negative)"
    )
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
    r.add_argument(
        "--config",
        default=os.path.join(CONFIG_DIR, "train.yaml"),
        help="training config: a YAML file or a shipped config's name",
    )
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the config's out")
    r.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default cpu)")
    return p


def add_model_arguments(p):
    p.add_argument(
        "--config",
        help=f"tracker config: a YAML file or a shipped config's name, one of "
        f"{', '.join(shipped_configs())} (default siamfc)",
    )
    p.add_argument("--weights", help="weights file (default: the config's, shipped in tracker/weights/)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default cpu)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if sys.stderr is None:
        # Started with stderr closed: progress lines and errors would go to stdout, and the next
        # file opened would take descriptor 2, where libraries write their warnings.
        sys.stderr = open(os.devnull, "w")
    try:
        with on_stop_signals(signal.default_int_handler):  # kill and hang-up stop a command as Ctrl-C does
            return run(parser().parse_args(argv or demo_args()))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        stdout_closed()
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        # Each output was written under a temporary name, deleted now: none is left half-written.
        print(f"error: the disk is full ({e.strerror}); free some space and run the command again", file=sys.stderr)
        return USER_ERROR_EXIT
    return 0


def run(args):
    """The command's exit code."""
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
    return 0
