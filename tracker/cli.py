"""The command line: track a video (the default), benchmark trackers, compare two benchmark runs, convert a
dataset's layout, train the network."""

import argparse
import collections
import contextlib
import errno
import functools
import itertools
import os
import signal
import sys

from . import __version__
from .config import CONFIG_DIR, shipped, shipped_configs
from .errors import USER_ERROR_EXIT, UserError, stdout_closed
from .outputs import STDOUT, BoxWriter, box_format, new_folder, source_name

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


def count_of(what):
    """argparse's type for a number of `what`, 1 or more (--select N, --limit N)."""

    def parse(text):
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}; give 1 or more, e.g. 2")
        return int(text)

    return parse


def frame_number(text):
    """argparse's type for --start and --end."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame number; give 0 or more, e.g. 100")
    return int(text)


def port_number(text):
    """argparse's type for serve --port."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; give 1-65535, e.g. 8000")
    return int(text)


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


def check_outputs(args, sources):
    """Refuse, before any work, output paths that would destroy the input or each other, or that
    are not files of the kind written there."""
    if len(sources) > 1 and (args.output or args.boxes):
        raise UserError(
            f"{len(sources)} videos to track, and one --output/--boxes for all; leave both out to write "
            "each video's outputs into its own folder under runs/track"
        )
    for flag, path, example in (("--output", args.output, "tracked.mp4"), ("--boxes", args.boxes, "boxes.txt")):
        if not path or path == STDOUT:
            continue
        if path.endswith(("/", os.sep)) or os.path.isdir(path):
            raise UserError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
        for source in (*args.source, *sources):  # a folder as given, and the videos in it
            if overwrites_input(path, source):
                raise UserError(f"{flag} {path} would overwrite the input {source}; give another file name")
    if args.output and args.boxes and os.path.realpath(args.output) == os.path.realpath(args.boxes):
        raise UserError(f"--output and --boxes are both {args.output}; give them different file names")
    if args.output and os.path.splitext(args.output)[1].lower() != ".mp4":
        raise UserError(
            f"--output {args.output}: the annotated video is written as H.264 MP4; give a file name ending in .mp4"
        )


def check_tracker_options(args):
    if args.tracker == "siamfc":
        return
    for flag, value in (("--config", args.config), ("--weights", args.weights), ("--set", args.overrides)):
        if value:
            raise UserError(f"{flag} sets up siamfc, not {args.tracker}; leave it out, or use --tracker siamfc")


def check_heatmap(args):
    if args.heatmap and args.tracker != "siamfc":
        raise UserError(f"--heatmap shows siamfc's response map, and {args.tracker} has none; leave it out")
    if args.heatmap and (len(args.bbox or ()) > 1 or (args.select or 1) > 1):
        raise UserError("--heatmap shows one target's response map; leave it out, or track one target")


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
    """Track each source (several when given several, or a folder of videos) with one tracker."""
    from .fileio import remove_stale_temporaries
    from .params import tracking_overrides
    from .peers import quiet_opencv
    from .specs import make_multi_tracker
    from .video import expand_sources

    sources = expand_sources(args.source)
    check_outputs(args, sources)
    check_tracker_options(args)
    check_heatmap(args)
    for path in (args.output, args.boxes):
        if path and path != STDOUT:  # what a killed run left there
            remove_stale_temporaries(os.path.dirname(os.path.abspath(path)))
    quiet_opencv()
    say = message_printer(args)
    summary, failed = [], 0
    tracking = tracking_overrides(args.config, args.overrides) if args.overrides else None
    tracker = make_multi_tracker(args.tracker, args.config, args.weights, args.peer_models, args.device, tracking)
    with tracker:
        details = run_details(args)
        for source in sources:
            try:
                summary.append(f"{source}: {track_source(args, tracker, source, details, say)}")
            except Interrupted:
                raise  # the user stopped the whole command, not this video
            except UserError as e:
                if len(sources) == 1:
                    raise
                print(f"error: {source}: {e}", file=sys.stderr)
                summary.append(f"{source}: failed, {e}")
                failed += 1
    if len(sources) > 1:
        say(f"tracked {len(sources) - failed} of {len(sources)} videos:", *summary, sep="\n  ")
    if failed:
        raise UserError(f"{failed} of {len(sources)} videos failed (errors above); fix or remove them and run again")


def message_printer(args):
    """print() for what the command tells the user: on stdout, unless the boxes are written there."""
    return functools.partial(print, file=sys.stderr if args.boxes == STDOUT else sys.stdout)


def run_details(args):
    """What the JSON boxes of `track` and `serve` record of how they were made, besides the source."""
    from .provenance import tracker_files

    return {
        "tracker": args.tracker,
        **tracker_files(args.tracker, args.config, args.weights, args.peer_models),
        **({"set": args.overrides} if args.overrides else {}),
        "siamtrack": __version__,
    }


def track_source(args, tracker, source, details, say):
    """Track one source into the outputs asked for, or by default into a new folder under
    runs/track; a line saying how it went."""
    if args.output or args.boxes or args.show:
        return track_into(args, tracker, source, args.output, args.boxes, details, say)
    folder = new_folder(source_name(source))
    name = os.path.join(folder, os.path.basename(folder))
    try:
        return track_into(args, tracker, source, name + ".mp4", name + ".json", details, say) + f" -> {folder}"
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only if empty: nothing was tracked


class Interrupted(UserError):
    """A stop signal ended tracking; what was tracked before it is kept."""


def box_paths(boxes_path, targets):
    """The box files to write: `boxes_path`, or with {id} in it one per target, {id} being 1, 2, ..."""
    if boxes_path == STDOUT or "{id}" not in boxes_path:
        return [boxes_path]
    return [boxes_path.replace("{id}", str(i)) for i in range(1, targets + 1)]


def track_into(args, tracker, source_path, video_path, boxes_path, details, say):
    """Track `source_path` into the video and boxes files given (None: not written; STDOUT for
    boxes: stdout); a line saying how it went."""
    from .annotate import draw, draw_targets
    from .display import Window, select_boxes
    from .fileio import atomic_write
    from .interface import track_targets
    from .progress import Progress
    from .video import VideoWriter, open_source

    tracked, lost_frames, stopped = 0, 0, None
    with open_source(source_path) as source, contextlib.ExitStack() as outputs:
        frames = itertools.islice(source, args.start, args.end)
        first = next(frames, None)
        if first is None:
            raise UserError(f"{source_path} ends before frame {args.start}; give a smaller --start")
        if args.select:
            targets = select_boxes(first, args.select, lambda frame, boxes: draw_targets(frame, boxes, None, None))
            say("selected " + " ".join(f"--bbox {','.join(f'{v:g}' for v in box)}" for box in targets))
        else:
            targets = [parse_bbox(text) for text in args.bbox]
        targets = [clip_box(box, first.shape) for box in targets]
        several = len(targets) > 1
        interrupted = outputs.enter_context(stop_flag())
        # Both outputs are opened before tracking, so an unwritable path fails now rather than after
        # the whole video; they are kept when tracking ends or stops, and deleted if something breaks.
        writers = []
        paths = box_paths(boxes_path, len(targets)) if boxes_path else []
        for path in paths:
            f = sys.stdout if path == STDOUT else outputs.enter_context(atomic_write(path))
            about = {"source": source_path, "frame_size": list(source.size), "fps": source.fps, **details}
            writers.append(BoxWriter(f, box_format(path), about, len(targets) if len(paths) == 1 else 1))
        writer = outputs.enter_context(VideoWriter(video_path, source.fps)) if video_path else None
        window = Window() if args.show else None
        count = source.count if args.end is None else min(source.count or args.end, args.end)
        progress = Progress("tracking", count and max(count - args.start, 0))
        trails = [collections.deque(maxlen=TRAIL) for _ in targets]
        try:
            for b, scores, lost, _, frame in track_targets(tracker, itertools.chain([first], frames), targets):
                if interrupted:
                    break
                index = args.start + tracked
                tracked += 1
                lost_frames += int(lost.sum())
                for i, w in enumerate(writers):
                    rows = slice(None) if len(writers) == 1 else slice(i, i + 1)
                    w.add(index, b[rows], scores[rows], lost[rows])
                for trail, box in zip(trails, b):
                    trail.append((box[0] + box[2] / 2, box[1] + box[3] / 2))
                if writer or window:
                    if several:
                        picture = draw_targets(frame, b, scores, index, [list(t) for t in trails], lost)
                    else:
                        heat = tracker.trackers[0].response if args.heatmap and tracked > 1 else None
                        picture = draw(frame, b[0], scores[0], index, list(trails[0]), lost[0], heat)
                    if writer:
                        writer.write(picture)
                    if window and not window.show(picture):
                        break
                gone = [str(i) for i, g in enumerate(lost, 1) if g]
                progress.update(note=("  LOST " + ",".join(gone) if several else "  LOST") if gone else "")
        except UserError as e:  # the video stopped decoding: keep what was tracked
            stopped = str(e)
        finally:
            progress.close()
            if window:
                window.close()
        if interrupted:
            stopped = f"interrupted at frame {args.start + tracked}"
        for w in writers:
            w.finish()
    for path in (video_path, *paths):
        if path and path != STDOUT:
            say(f"wrote {path} ({tracked} frames)")
    if stopped:
        error = Interrupted if interrupted else UserError
        raise error(f"{stopped}; the outputs hold the {tracked} frames tracked before it")
    if several:
        return f"{tracked} frames of {len(targets)} targets, {lost_frames} target-frames lost"
    return f"{tracked} frames, {lost_frames} lost"


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
    from .specs import TRACKERS

    t = sub.add_parser("track", help="track one object through videos, a stream, a folder of frames or a camera")
    t.add_argument(
        "source",
        nargs="+",
        help="video file, stream URL (rtsp://, http://...), folder of frames (sorted by name), folder of videos "
        "or camera index; several are tracked one after another",
    )
    pick = t.add_mutually_exclusive_group(required=True)
    pick.add_argument(
        "--bbox",
        action="append",
        help="the target in the first frame: X,Y,W,H in pixels (write --bbox=X,Y,W,H when X is negative); "
        "repeat it for several targets",
    )
    pick.add_argument(
        "--select",
        nargs="?",
        const=1,
        type=count_of("targets"),
        metavar="N",
        help="draw the box on the first frame; --select N: draw N boxes, one per target",
    )
    t.add_argument(
        "--output",
        help="annotated video to write (.mp4, H.264); with neither --output, --boxes nor --show, "
        "the video and JSON boxes go into a new folder runs/track/NAME",
    )
    t.add_argument(
        "--boxes",
        help="boxes to write: .txt (x,y,w,h per frame; several targets: MOT Challenge lines "
        "frame,id,x,y,w,h,score,-1,-1,-1, frames from 1), .csv (with a header, frame numbers, scores; several "
        "targets: ids), .json (scores and the run's details), or - for lines on stdout; {id} in the name "
        "writes a file per target",
    )
    t.add_argument("--start", type=frame_number, default=0, help="first frame to track, 0-based (default 0)")
    t.add_argument("--end", type=frame_number, help="stop before this frame (default: the last)")
    t.add_argument("--tracker", default="siamfc", choices=TRACKERS, help="tracker to run (default siamfc)")
    t.add_argument("--peer-models", help="folder of the nano/vit ONNX files (default ../shared/models)")
    t.add_argument("--show", action="store_true", help="show the tracking live in a window")
    t.add_argument("--heatmap", action="store_true", help="inset the response map in the annotated video")
    add_model_arguments(t)

    b = sub.add_parser("benchmark", help="run trackers over a dataset and report the standard metrics")
    from .benchmark import add_arguments

    add_arguments(b)

    c = sub.add_parser("compare", help="paired per-sequence differences between two benchmark results.json")
    from .compare import add_arguments as add_compare_arguments

    add_compare_arguments(c)

    v = sub.add_parser("convert", help="write a dataset's sequences in another layout (GOT-10k, LaSOT, OTB)")
    v.add_argument("dataset", help="dataset folder in any layout the benchmark reads, or a video with a .txt of boxes")
    v.add_argument("out", help="folder to write the sequences into")
    v.add_argument("--format", required=True, choices=["got10k", "lasot", "otb"], help="the layout to write")
    v.add_argument("--split", help="file of sequence names to convert (default: all)")
    v.add_argument("--limit", type=count_of("sequences"), help="convert at most this many sequences")

    m = sub.add_parser("speed", help="frames per second of our tracker and OpenCV's on a dataset, step by step")
    from .speed import add_arguments as add_speed_arguments

    add_speed_arguments(m)

    u = sub.add_parser("tune", help="tune the tracking parameters on a training split (coordinate descent)")
    from .tune import add_arguments as add_tune_arguments

    add_tune_arguments(u)

    w = sub.add_parser("serve", help="a local web page to track with: choose the objects in the browser")
    w.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    w.add_argument("--port", type=port_number, default=8000, help="port (default 8000)")
    w.add_argument("--root", default=".", help="folder whose videos the page may open (default: the current one)")
    w.add_argument("--work", default=os.path.join("runs", "serve"), help="folder for uploads and results")
    w.add_argument("--max-upload-mb", type=count_of("megabytes"), default=500, help="upload size limit (default 500)")
    w.add_argument("--tracker", default="siamfc", choices=TRACKERS, help="tracker to run (default siamfc)")
    w.add_argument("--peer-models", help="folder of the nano/vit ONNX files (default ../shared/models)")
    add_model_arguments(w)

    r = sub.add_parser("train", help="train the network on sequences and still images")
    r.add_argument(
        "--config",
        default=os.path.join(CONFIG_DIR, "train.yaml"),
        help="training config: a YAML file or a shipped config's name (default train: configs/train.yaml, the "
        f"shipped weights' recipe; also {', '.join(n for n in shipped_configs() if n.startswith('train_'))})",
    )
    add_set_argument(r, "config keys, e.g. --set train.epochs=2 data.root=/data/mine")
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the config's out")
    r.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device (default cpu)")
    return p


def add_set_argument(p, what):
    p.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=f"override {what} (values read as YAML)",
    )


def add_model_arguments(p):
    p.add_argument(
        "--config",
        help=f"tracker config: a YAML file or a shipped config's name, one of "
        f"{', '.join(shipped_configs())} (default siamfc)",
    )
    p.add_argument("--weights", help="weights file (default: the config's, shipped in tracker/weights/)")
    add_set_argument(p, "the config's tracking parameters, e.g. --set tracking.threads=2")
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
        if args.end is not None and args.end <= args.start:
            raise UserError(f"--end {args.end} is not after --start {args.start}; give a later --end")
        track(args)
    elif args.command == "benchmark":
        from .benchmark import main as benchmark

        return benchmark(args)
    elif args.command == "compare":
        from .compare import main as compare

        compare(args)
    elif args.command == "speed":
        from .speed import main as speed

        speed(args)
    elif args.command == "tune":
        from .tune import main as tune

        tune(args)
    elif args.command == "serve":
        from .params import tracking_overrides
        from .specs import multi_tracker_maker
        from .web import serve

        check_tracker_options(args)
        tracking = tracking_overrides(args.config, args.overrides) if args.overrides else None
        # Every job gets its own tracker; ours share one engine, which fails now if it can't be built.
        make = multi_tracker_maker(args.tracker, args.config, args.weights, args.peer_models, args.device, tracking)
        serve(args.host, args.port, args.root, args.work, make, args.max_upload_mb, run_details(args))
    elif args.command == "convert":
        from .layouts import convert
        from .sequences import load_dataset

        sequences = load_dataset(args.dataset, "auto", args.split)[: args.limit]
        names = convert(sequences, args.out, args.format)
        print(f"wrote {len(names)} sequences into {args.out} ({args.format} layout)")
    else:
        from .train import train

        train(args.config, args.resume, args.device, overrides=args.overrides)
    return 0
