"""The `track` command end to end: outputs on short synthetic clips, and one-line errors for bad input."""

import functools
import hashlib
import http.server
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tracker import __version__, annotate, cli
from tracker.video import VideoWriter, h264_encoder, open_source

ROOT = Path(__file__).resolve().parent.parent
RUN_TRACKER = ROOT / "run_tracker.py"
WEIGHTS = ROOT / "tracker" / "weights"
WIDTH, HEIGHT = 160, 120
SIDE = 32  # the target square's side in the clips
FRAMES = 8


def square_frame(x, y, side, size=(WIDTH, HEIGHT)):
    """Fixed noise with a fixed textured square of `side` px at (x, y); the parts outside the frame are cut off."""
    rng = np.random.default_rng(0)
    width, height = size
    frame = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    texture = rng.integers(80, 256, (8, 8, 3), dtype=np.uint8)
    patch = cv2.resize(texture, (side, side), interpolation=cv2.INTER_NEAREST)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, width), min(y + side, height)
    if x0 < x1 and y0 < y1:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    return frame


def moving_square(count, start=(20, 20), step=(4, 2), side=SIDE):
    """`count` frames of the square moving `step` px a frame, and its box in the first."""
    frames = [square_frame(start[0] + step[0] * i, start[1] + step[1] * i, side) for i in range(count)]
    return frames, (*start, side, side)


def write_clip(path, frames, fps=25):
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def decode(path):
    with open_source(path) as source:
        return list(source)


def bbox_arg(box):
    return ",".join(str(v) for v in box)


def track_args(source, box, out, *extra):
    """`track` arguments writing out.mp4 and out.txt into the folder `out`."""
    return [
        "track",
        str(source),
        "--bbox",
        bbox_arg(box),
        "--output",
        str(out / "out.mp4"),
        "--boxes",
        str(out / "out.txt"),
        *extra,
    ]


def files_under(*folders):
    return sorted(str(p) for folder in folders for p in Path(folder).rglob("*"))


def run_tracker(args, cwd=ROOT, timeout=120):
    """run_tracker.py in a fresh Python, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(RUN_TRACKER), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames, box = moving_square(FRAMES)
    return write_clip(tmp_path_factory.mktemp("clip") / "square.mp4", frames), box


@pytest.fixture(scope="module")
def tracked(clip, tmp_path_factory):
    """Two runs on the clip: mp4 + txt without the heatmap, mp4 + json with it."""
    path, box = clip
    out = tmp_path_factory.mktemp("tracked")
    for name, extra in (
        ("plain", ["--boxes", str(out / "plain.txt")]),
        ("heat", ["--boxes", str(out / "heat.json"), "--heatmap"]),
    ):
        argv = ["track", str(path), "--bbox", bbox_arg(box), "--output", str(out / f"{name}.mp4"), *extra]
        assert cli.main(argv) == 0
    return out


def test_annotated_video_is_h264_with_every_input_frame(clip, tracked):
    assert len(decode(tracked / "plain.mp4")) == len(decode(clip[0])) == FRAMES
    with av.open(str(tracked / "plain.mp4")) as container:
        codec = container.streams.video[0].codec_context.name
    assert codec == ("mpeg4" if h264_encoder() == "mpeg4" else "h264")


def test_box_file_has_one_line_per_frame_starting_with_the_given_box(tracked):
    lines = (tracked / "plain.txt").read_text().splitlines()
    assert len(lines) == FRAMES
    assert lines[0] == "20.00,20.00,32.00,32.00"
    boxes = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert np.all(np.isfinite(boxes)) and np.all(boxes[:, 2:] > 0)


def test_json_has_box_score_and_lost_for_every_frame(tracked):
    frames = json.loads((tracked / "heat.json").read_text())["frames"]
    assert [f["frame"] for f in frames] == list(range(FRAMES))
    assert frames[0] == {"frame": 0, "box": [20.0, 20.0, 32.0, 32.0], "score": 1.0, "lost": False}
    for f in frames:
        assert len(f["box"]) == 4 and 0 <= f["score"] <= 1 and isinstance(f["lost"], bool)
    # Both runs track the same clip the same way; only what is drawn differs.
    plain = (tracked / "plain.txt").read_text().splitlines()
    assert [",".join(f"{v:.2f}" for v in f["box"]) for f in frames] == plain


def test_heatmap_fills_the_top_right_inset_and_nothing_else(tracked):
    side = min(WIDTH, HEIGHT) // 4
    plain, heat = (np.stack(decode(tracked / f"{name}.mp4")).astype(int) for name in ("plain", "heat"))
    # There is a response map from the second frame on.
    inset = np.abs(plain[1:, :side, -side:] - heat[1:, :side, -side:]).mean(axis=(1, 2, 3))
    assert np.all(inset > 20)
    below = np.abs(plain[:, side + 8 :, : WIDTH // 2] - heat[:, side + 8 :, : WIDTH // 2]).mean()
    assert below < 3


def test_folder_of_frames_is_tracked_in_name_order(tmp_path):
    frames, box = moving_square(4)
    folder = tmp_path / "frames"
    folder.mkdir()
    # Natural order: frame 10 comes after frame 9, not after frame 1.
    for index, frame in zip((1, 2, 9, 10), frames):
        cv2.imwrite(str(folder / f"f{index}.png"), frame)
    assert cli.main(["track", str(folder), "--bbox", bbox_arg(box), "--boxes", str(tmp_path / "b.txt")]) == 0
    boxes = np.loadtxt(tmp_path / "b.txt", delimiter=",")
    assert boxes.shape == (4, 4)
    # The square moves 4 px right a frame: a shuffled order would send the tracker back and forth.
    assert np.all(np.diff(boxes[:, 0] + boxes[:, 2] / 2) > 0)


def test_no_arguments_tracks_the_demo_into_runs_demo(tmp_path, monkeypatch, capsys):
    frames, box = moving_square(3)
    demo = write_clip(tmp_path / "clip" / "demo.mp4", frames)
    (tmp_path / "clip" / "demo.txt").write_text(bbox_arg(box) + "\n")
    monkeypatch.setattr(cli, "DEMO", str(demo))  # the bundled clip takes a minute on a small CPU
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    video = os.path.join("runs", "demo", "bunny_tracked.mp4")
    assert f"wrote {video} (3 frames)" in capsys.readouterr().out
    assert len(decode(tmp_path / video)) == 3


@pytest.mark.slow
def test_demo_runs_on_the_bundled_clip(tmp_path):
    done = run_tracker([], cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "runs/demo/bunny_tracked.mp4" in done.stdout
    assert (tmp_path / "runs" / "demo" / "bunny_tracked.mp4").is_file()


def test_box_partly_outside_is_clipped_with_a_warning(tmp_path, capfd):
    frames, _ = moving_square(2)
    path = write_clip(tmp_path / "c.mp4", frames)
    assert cli.main(["track", str(path), "--bbox=-10,-6,40,30", "--boxes", str(tmp_path / "b.txt")]) == 0
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "clipped to 0,0,30,24" in warnings[0]
    assert (tmp_path / "b.txt").read_text().splitlines()[0] == "0.00,0.00,30.00,24.00"


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """A folder of broken inputs, each made the way a user might end up with it."""
    folder = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(1)
    (folder / "noise.mp4").write_bytes(rng.bytes(20000))
    (folder / "noise.pt").write_bytes(rng.bytes(20000))
    light = (WEIGHTS / "siamfc_light.pt").read_bytes()
    (folder / "half.pt").write_bytes(light[: len(light) // 2])
    (folder / "typo.yaml").write_text("tracking: {windw_influence: 0.2}\n")
    (folder / "words.yaml").write_text("tracking: {scale_num: three}\n")
    (folder / "file").write_text("a regular file, not a folder\n")
    return folder


BOX = "20,20,32,32"
# (the track arguments after the defaults, words the error line must hold); {clip} and {bad} are paths.
BAD_INPUTS = {
    "missing video": (["{bad}/none.mp4", "--bbox", BOX], ["no such file", "none.mp4"]),
    "not a video": (["{bad}/noise.mp4", "--bbox", BOX], ["cannot read", "noise.mp4"]),
    "bbox of three numbers": (["{clip}", "--bbox", "1,2,3"], ["'1,2,3'", "malformed", "X,Y,W,H"]),
    "bbox with nan": (["{clip}", "--bbox", "nan,1,2,3"], ["finite"]),
    "bbox of zero size": (["{clip}", "--bbox", "10,10,0,20"], ["zero or negative size"]),
    "bbox of negative size": (["{clip}", "--bbox", "10,10,20,-5"], ["zero or negative size"]),
    "bbox outside the frame": (["{clip}", "--bbox", "170,10,20,20"], ["outside", "160x120"]),
    "unknown config key": (
        ["{clip}", "--bbox", BOX, "--config", "{bad}/typo.yaml"],
        ["unknown config key", "tracking.windw_influence", "window_influence"],
    ),
    "config value of the wrong type": (
        ["{clip}", "--bbox", BOX, "--config", "{bad}/words.yaml"],
        ["tracking.scale_num", "'three'", "int"],
    ),
    "missing weights": (["{clip}", "--bbox", BOX, "--weights", "{bad}/none.pt"], ["weights file not found", "none.pt"]),
    "corrupt weights": (["{clip}", "--bbox", BOX, "--weights", "{bad}/noise.pt"], ["noise.pt", "corrupt"]),
    "truncated weights": (["{clip}", "--bbox", BOX, "--weights", "{bad}/half.pt"], ["half.pt", "truncated"]),
    "weights of another model": (
        ["{clip}", "--bbox", BOX, "--weights", str(WEIGHTS / "siamfc_alexnet.pt")],
        ["siamfc_alexnet.pt", "alexnet", "mobilenet_v1"],
    ),
    "video in a folder that is a file": (
        ["{clip}", "--bbox", BOX, "--output", "{bad}/file/out.mp4"],
        ["cannot write", "file/out.mp4"],
    ),
    "boxes in a folder that is a file": (
        ["{clip}", "--bbox", BOX, "--boxes", "{bad}/file/out.txt"],
        ["cannot write", "file/out.txt"],
    ),
    "boxes that are the input video": (
        ["{clip}", "--bbox", BOX, "--boxes", "{clip}"],
        ["--boxes", "square.mp4", "overwrite the input"],
    ),
    "video that is the input video": (
        ["{clip}", "--bbox", BOX, "--output", "{clip}"],
        ["--output", "square.mp4", "overwrite the input"],
    ),
    "boxes that would be a frame of the input folder": (
        ["{bad}", "--bbox", BOX, "--boxes", "{bad}/0001.png"],
        ["--boxes", "0001.png", "overwrite the input"],
    ),
    "video and boxes of one name": (
        ["{clip}", "--bbox", BOX, "--output", "{bad}/o.mp4", "--boxes", "{bad}/o.mp4"],
        ["--output and --boxes", "o.mp4", "different"],
    ),
    "video that is a folder": (["{clip}", "--bbox", BOX, "--output", "{bad}"], ["--output", "is a folder"]),
    "video ending in a slash": (["{clip}", "--bbox", BOX, "--output", "{bad}/new/"], ["--output", "is a folder"]),
    "boxes that are a folder": (["{clip}", "--bbox", BOX, "--boxes", "{bad}"], ["--boxes", "is a folder"]),
    "video that is not mp4": (["{clip}", "--bbox", BOX, "--output", "{bad}/out.avi"], ["out.avi", ".mp4"]),
    "camera that does not open": (["99", "--bbox", BOX], ["camera 99"]),
    "unreachable stream": (["http://127.0.0.1:9/none.mp4", "--bbox", BOX], ["cannot read the stream", "127.0.0.1:9"]),
    "two videos and one output": (["{clip}", "{clip}", "--bbox", BOX], ["2 videos", "--output/--boxes", "runs/track"]),
    "end not after start": (["{clip}", "--bbox", BOX, "--start", "5", "--end", "5"], ["--end 5", "--start 5"]),
    "start after the last frame": (["{clip}", "--bbox", BOX, "--start", "50"], ["before frame 50", "--start"]),
    "config for a peer": (
        ["{clip}", "--bbox", BOX, "--tracker", "kcf", "--config", "siamfc_fast"],
        ["--config", "kcf"],
    ),
    "set for a peer": (
        ["{clip}", "--bbox", BOX, "--tracker", "kcf", "--set", "tracking.threads=2"],
        ["--set", "kcf"],
    ),
    "set of an unknown tracking key": (
        ["{clip}", "--bbox", BOX, "--set", "tracking.thread=2"],
        ["unknown config key", "tracking.thread", "threads"],
    ),
    "set of a value the rules refuse": (
        ["{clip}", "--bbox", BOX, "--set", "tracking.scale_num=2"],
        ["tracking.scale_num", "odd"],
    ),
    "set of a model key": (
        ["{clip}", "--bbox", BOX, "--set", "model.width=1.0"],
        ["--set model", "tracking parameters", "--weights"],
    ),
    "heatmap for a peer": (["{clip}", "--bbox", BOX, "--tracker", "kcf", "--heatmap"], ["--heatmap", "kcf"]),
    "heatmap for two targets": (["{clip}", "--bbox", BOX, "--bbox", BOX, "--heatmap"], ["--heatmap", "one target"]),
    "peer without its model files": (
        ["{clip}", "--bbox", BOX, "--tracker", "nano", "--peer-models", "{bad}"],
        ["nano", "--peer-models"],
    ),
    "select without a display": (["{clip}", "--select"], ["--select", "--bbox"]),
    "show without a display": (["{clip}", "--bbox", BOX, "--show"], ["--show", "--output"]),
}


def track_argv(case, clip, bad, out):
    args, _ = BAD_INPUTS[case]
    return [
        "track",
        "--output",
        str(out / "out.mp4"),
        "--boxes",
        str(out / "out.txt"),
        *(a.format(clip=clip[0], bad=bad) for a in args),
    ]


def assert_one_error_line(stderr, case):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in BAD_INPUTS[case][1]:
        assert word in lines[0]


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_leaves_no_file(case, clip, bad, tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    before = files_under(bad, tmp_path, clip[0].parent)
    assert cli.main(track_argv(case, clip, bad, tmp_path)) == 2
    assert_one_error_line(capfd.readouterr().err, case)
    assert files_under(bad, tmp_path, clip[0].parent) == before


@pytest.mark.parametrize("case", ["not a video", "truncated weights"])
def test_bad_input_from_the_shell_exits_2_without_traceback(case, clip, bad, tmp_path):
    done = run_tracker(track_argv(case, clip, bad, tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert_one_error_line(done.stderr, case)
    assert list(tmp_path.iterdir()) == []


def test_input_under_another_name_is_not_overwritten(clip, tmp_path, capfd):
    path, box = clip
    link = tmp_path / "link.mp4"
    os.link(path, link)  # a hard link: the same file, whatever its name
    before = path.read_bytes()
    assert cli.main(["track", str(path), "--bbox", bbox_arg(box), "--boxes", str(link)]) == 2
    assert "would overwrite the input" in capfd.readouterr().err
    assert path.read_bytes() == before


def boxes_of(path):
    return (Path(path)).read_text().splitlines()


def test_no_output_flag_writes_video_and_json_into_a_new_numbered_folder(clip, tmp_path, monkeypatch, capsys):
    path, box = clip
    monkeypatch.chdir(tmp_path)
    for folder in ("square", "square2"):  # the second run leaves the first's outputs alone
        assert cli.main(["track", str(path), "--bbox", bbox_arg(box)]) == 0
        video, boxes = (os.path.join("runs", "track", folder, f"{folder}{ext}") for ext in (".mp4", ".json"))
        out = capsys.readouterr().out
        assert f"wrote {video} ({FRAMES} frames)" in out and f"wrote {boxes} ({FRAMES} frames)" in out
        assert len(decode(video)) == FRAMES
    assert sorted(os.listdir(tmp_path / "runs" / "track")) == ["square", "square2"]


def test_failed_run_leaves_no_empty_folder(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["track", str(bad / "noise.mp4"), "--bbox", BOX]) == 2
    assert os.listdir(tmp_path / "runs" / "track") == []


def test_json_says_how_the_boxes_were_made(clip, tmp_path):
    path, box = clip
    assert cli.main(["track", str(path), "--bbox", bbox_arg(box), "--boxes", str(tmp_path / "b.json")]) == 0
    made = json.loads((tmp_path / "b.json").read_text())
    assert made["source"] == str(path) and made["frame_size"] == [WIDTH, HEIGHT] and made["fps"] == 25
    assert made["tracker"] == "siamfc" and made["siamtrack"] == __version__
    assert made["config"].endswith("siamfc.yaml") and made["weights"].endswith(".pt")
    assert made["weights_sha256"] == hashlib.sha256(Path(made["weights"]).read_bytes()).hexdigest()
    assert len(made["frames"]) == FRAMES


def test_set_changes_a_tracking_parameter_and_the_json_says_so(clip, tmp_path):
    # One scale instead of three: the box keeps its size on every frame, and differs from the default's.
    path, box = clip
    one = tmp_path / "one.json"
    argv = ["track", str(path), "--bbox", bbox_arg(box), "--boxes", str(one), "--set", "tracking.scale_num=1"]
    assert cli.main(argv) == 0
    made = json.loads(one.read_text())
    assert made["set"] == ["tracking.scale_num=1"]
    sizes = {tuple(f["box"][2:]) for f in made["frames"]}
    assert sizes == {tuple(float(v) for v in box[2:])}
    assert cli.main(["track", str(path), "--bbox", bbox_arg(box), "--boxes", str(tmp_path / "d.json")]) == 0
    default = json.loads((tmp_path / "d.json").read_text())
    assert "set" not in default and len({tuple(f["box"][2:]) for f in default["frames"]}) > 1


def test_csv_has_a_header_and_a_frame_range_keeps_the_source_frame_numbers(clip, tmp_path):
    path, _ = clip
    # The box is the target's in the first frame tracked, frame 2: the square moves (4, 2) a frame.
    argv = [
        "track",
        str(path),
        "--bbox",
        "28,24,32,32",
        "--start",
        "2",
        "--end",
        "6",
        "--boxes",
        str(tmp_path / "b.csv"),
    ]
    assert cli.main(argv) == 0
    lines = boxes_of(tmp_path / "b.csv")
    assert lines[0] == "frame,x,y,w,h,score,lost"
    assert lines[1] == "2,28.00,24.00,32.00,32.00,1.0000,0"
    assert [int(line.split(",")[0]) for line in lines[1:]] == [2, 3, 4, 5]


def test_boxes_dash_writes_the_lines_to_stdout_and_the_messages_to_stderr(clip, tmp_path, capsys):
    path, box = clip
    assert cli.main(["track", str(path), "--bbox", bbox_arg(box), "--boxes", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "20.00,20.00,32.00,32.00" and len(out.splitlines()) == FRAMES
    assert "tracking" in err and not (tmp_path / "-").exists() and not Path("-").exists()


def test_folder_of_two_videos_gets_a_folder_each_and_a_summary(tmp_path, monkeypatch, capsys):
    frames, box = moving_square(3)
    for name in ("b.mp4", "a.mp4"):
        write_clip(tmp_path / "videos" / name, frames)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["track", "videos", "--bbox", bbox_arg(box)]) == 0
    for name in ("a", "b"):
        assert len(json.loads((tmp_path / "runs" / "track" / name / f"{name}.json").read_text())["frames"]) == 3
    summary = [line.strip() for line in capsys.readouterr().out.split("tracked 2 of 2 videos:\n")[1].splitlines()]
    assert summary == [
        f"{os.path.join('videos', n)}.mp4: 3 frames, 0 lost -> {os.path.join('runs', 'track', n)}" for n in "ab"
    ]


def test_http_stream_is_read(clip, tmp_path):
    path, box = clip
    handler = functools.partial(QuietHandler, directory=str(path.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        try:
            assert cli.main(["track", url, "--bbox", bbox_arg(box), "--boxes", str(tmp_path / "b.txt")]) == 0
        finally:
            server.shutdown()
    assert boxes_of(tmp_path / "b.txt") == boxes_of(tracked_txt(clip, tmp_path))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def tracked_txt(clip, tmp_path):
    """The boxes of the clip read from its file."""
    path, box = clip
    assert cli.main(["track", str(path), "--bbox", bbox_arg(box), "--boxes", str(tmp_path / "file.txt")]) == 0
    return tmp_path / "file.txt"


@pytest.mark.skipif(not hasattr(cv2, "TrackerCSRT"), reason="this OpenCV has no CSRT tracker")
def test_csrt_tracks_the_square(clip, tmp_path):
    path, box = clip
    argv = ["track", str(path), "--bbox", bbox_arg(box), "--tracker", "csrt", "--boxes", str(tmp_path / "b.json")]
    argv += ["--output", str(tmp_path / "b.mp4")]
    assert cli.main(argv) == 0
    made = json.loads((tmp_path / "b.json").read_text())
    assert made["tracker"] == "csrt" and "weights" not in made
    # The square moves 4 px right and 2 down a frame.
    last = made["frames"][-1]["box"]
    assert abs(last[0] - (20 + 4 * (FRAMES - 1))) < 4 and abs(last[1] - (20 + 2 * (FRAMES - 1))) < 4
    assert len(decode(tmp_path / "b.mp4")) == FRAMES


def interrupt_drawing_at(monkeypatch, frame_index):
    """SIGINT, as if the user pressed Ctrl-C, when the annotated video draws frame `frame_index`."""
    real_draw = annotate.draw

    def draw(frame, box, score, index, *args):
        if index == frame_index:
            os.kill(os.getpid(), signal.SIGINT)
        return real_draw(frame, box, score, index, *args)

    monkeypatch.setattr(annotate, "draw", draw)


def test_ctrl_c_stops_every_video_not_just_the_one_tracked(tmp_path, monkeypatch, capsys):
    frames, box = moving_square(4)
    for name in ("a.mp4", "b.mp4"):
        write_clip(tmp_path / "videos" / name, frames)
    interrupt_drawing_at(monkeypatch, 1)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["track", "videos", "--bbox", bbox_arg(box)]) == 2
    assert "error: interrupted at frame 2;" in capsys.readouterr().err
    assert os.listdir(tmp_path / "runs" / "track") == ["a"]


SECOND = (100, 70, 24, 24)  # a patch of the clips' fixed noise, as a second target


def test_several_targets_give_mot_lines_csv_and_json_with_ids_and_a_file_each(clip, tmp_path):
    """Two targets: the MOT Challenge layout as its devkit reads it (10 comma-separated columns,
    frames from 1, ids from 1, -1 in the last three), agreeing with the CSV, the JSON and the
    per-target files of the same run."""
    path, box = clip
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    argv = [
        "track",
        str(path),
        "--bbox",
        bbox_arg(box),
        "--bbox",
        bbox_arg(SECOND),
        "--output",
        str(tmp_path / "o.mp4"),
    ]
    for name in ("mot.txt", "rows.csv", "run.json", "target{id}.txt"):
        assert cli.main([*argv, "--boxes", str(boxes / name)]) == 0
    mot = np.loadtxt(boxes / "mot.txt", delimiter=",")
    assert mot.shape == (2 * FRAMES, 10)
    assert mot[:, 0].tolist() == [f for f in range(1, FRAMES + 1) for _ in range(2)]
    assert mot[:, 1].tolist() == [1, 2] * FRAMES
    assert mot[:2, 2:6].tolist() == [list(box), list(SECOND)] and mot[:2, 6].tolist() == [1, 1]
    assert np.all((mot[:, 6] > 0) & (mot[:, 6] <= 1)) and np.all(mot[:, 7:] == -1)
    rows = np.loadtxt(boxes / "rows.csv", delimiter=",", skiprows=1)
    assert (boxes / "rows.csv").read_text().startswith("frame,id,x,y,w,h,score,lost\n")
    np.testing.assert_array_equal(rows[:, :6], np.column_stack([mot[:, 0] - 1, mot[:, 1:6]]))
    frames = json.loads((boxes / "run.json").read_text())["frames"]
    assert [t["id"] for t in frames[3]["targets"]] == [1, 2]
    np.testing.assert_allclose([t["box"] for f in frames for t in f["targets"]], mot[:, 2:6])
    for i in (1, 2):
        each = np.loadtxt(boxes / f"target{i}.txt", delimiter=",")
        np.testing.assert_array_equal(each, mot[mot[:, 1] == i, 2:6])
    assert len(decode(tmp_path / "o.mp4")) == FRAMES


def test_the_annotated_video_shows_each_target_in_its_colour(clip, tmp_path):
    path, box = clip
    out = tmp_path / "o.mp4"
    assert (
        cli.main(["track", str(path), "--bbox", bbox_arg(box), "--bbox", bbox_arg(SECOND), "--output", str(out)]) == 0
    )
    first = decode(out)[0].astype(int)
    colours = np.array(annotate.TARGET_COLOURS[:2])
    for i, (x, y, _, h) in enumerate((box, SECOND)):
        edge = first[y + h // 2, x]  # the left edge's middle, clear of the tags above the boxes
        # H.264 keeps colour at half resolution: a 1 px line's is blurred, but nearer its own.
        assert np.argmin(np.abs(colours - edge).sum(1)) == i, edge


def test_serve_records_in_its_json_how_the_boxes_are_made_as_track_does(tmp_path, monkeypatch):
    started = {}
    monkeypatch.setattr("tracker.web.serve", lambda *args: started.setdefault("args", args))
    assert cli.main(["serve", "--root", str(tmp_path), "--set", "tracking.scale_num=1"]) == 0
    details = started["args"][-1]
    assert details["tracker"] == "siamfc" and details["set"] == ["tracking.scale_num=1"]
    assert details["siamtrack"] == __version__ and details["weights"].endswith(".pt")
    make = started["args"][4]  # what makes each job's tracker: ours all on one engine
    assert make().engine is make().engine


def test_serve_on_a_busy_port_or_a_missing_folder_is_one_line(tmp_path, capfd):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--port", str(port), "--root", str(tmp_path)]) == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in capfd.readouterr().err
    assert cli.main(["serve", "--root", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capfd.readouterr().err
    for port in ("99999", "0", "http"):
        with pytest.raises(SystemExit, match="2"):  # argparse's usage line, then the error
            cli.main(["serve", "--port", port, "--root", str(tmp_path)])
        assert f"error: argument --port: '{port}' is not a port; give 1-65535" in capfd.readouterr().err
    assert cli.main(["serve", "--root", str(tmp_path), "--set", "tracking.scale_num=two"]) == 2
    assert "tracking.scale_num" in capfd.readouterr().err


def test_serve_without_its_packages_names_the_install(tmp_path, monkeypatch, capfd):
    find = importlib.util.find_spec
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "fastapi" else find(name, *a))
    assert cli.main(["serve", "--root", str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "serve needs fastapi" in err and "pip install -e '.[web]'" in err
