"""What happens when things go wrong mid-way: damaged videos, Ctrl-C, kills, and frames of odd shapes."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from test_cli import RUN_TRACKER, decode, interrupt_drawing_at, moving_square, square_frame, track_args, write_clip
from tracker import cli
from tracker.build import build_tracker
from tracker.errors import UserError
from tracker.fileio import atomic_path
from tracker.video import h264_encoder, open_source, to_bgr8


def grainy(frames, seed=0):
    """The frames with fresh noise on each, so every frame takes about as many bytes in the file."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.integers(-30, 30, f.shape), 0, 255).astype(np.uint8) for f in frames]


def temp_files(folder):
    return list(Path(folder).rglob("*.tmp"))


def test_video_that_stops_decoding_keeps_the_frames_before(tmp_path, capfd):
    frames, box = moving_square(40)
    whole = write_clip(tmp_path / "whole.mp4", grainy(frames)).read_bytes()
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(whole[: len(whole) // 2])
    decoded = []
    with pytest.raises(UserError), open_source(clip) as source:
        decoded.extend(source)
    assert 0 < len(decoded) < 40

    assert cli.main(track_args(clip, box, tmp_path)) == 2
    error = capfd.readouterr().err.splitlines()[-1]
    assert error.startswith("error: ") and f"at frame {len(decoded)}" in error
    assert f"the outputs hold the {len(decoded)} frames" in error
    assert len((tmp_path / "out.txt").read_text().splitlines()) == len(decoded)
    assert len(decode(tmp_path / "out.mp4")) == len(decoded)
    assert temp_files(tmp_path) == []


def write_ts(path, frames):
    """An MPEG-TS clip: unlike MP4, such files can be joined end to end into one stream."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream(h264_encoder(), rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in [*frames, None]:
            picture = frame if frame is None else av.VideoFrame.from_ndarray(frame, format="bgr24")
            container.mux(stream.encode(picture))
    return path.read_bytes()


def test_video_that_changes_size_mid_way_keeps_the_frames_before(tmp_path, capfd):
    frames, box = moving_square(10)
    clip = tmp_path / "joined.ts"
    clip.write_bytes(
        write_ts(tmp_path / "a.ts", frames[:5])
        + write_ts(tmp_path / "b.ts", [cv2.resize(f, None, fx=2, fy=2) for f in frames[5:]])
    )
    assert cli.main(track_args(clip, box, tmp_path)) == 2
    error = capfd.readouterr().err.splitlines()[-1]
    assert error.startswith("error: ") and "changes frame size at frame 5, from 160x120 to 320x240" in error
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 5
    assert len(decode(tmp_path / "out.mp4")) == 5
    assert temp_files(tmp_path) == []


def test_full_disk_is_one_error_line_and_leaves_no_temporary_file(tmp_path, monkeypatch, capfd):
    frames, box = moving_square(4)
    clip = write_clip(tmp_path / "clip.mp4", frames)

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)  # where atomic_write makes sure the bytes are on disk
    assert cli.main(track_args(clip, box, tmp_path / "out")) == 2
    err = capfd.readouterr().err.splitlines()
    assert err[-1].startswith("error: the disk is full (No space left on device)") and "Traceback" not in err
    assert not (tmp_path / "out" / "out.txt").exists() and temp_files(tmp_path) == []


def test_ctrl_c_between_drawing_and_writing_keeps_video_and_boxes_in_step(tmp_path, monkeypatch, capfd):
    frames, box = moving_square(8)
    clip = write_clip(tmp_path / "clip.mp4", frames)
    interrupt_drawing_at(monkeypatch, 3)
    assert cli.main(track_args(clip, box, tmp_path)) == 2
    assert "error: interrupted at frame 4;" in capfd.readouterr().err
    # Frame 3 is finished, and nothing after it is started.
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 4
    assert len(decode(tmp_path / "out.mp4")) == 4


def start_tracking(clip, box, out):
    """run_tracker.py tracking `clip` into `out`, once its progress line shows tracking has begun;
    and what it wrote on stderr until then."""
    process = subprocess.Popen(
        [sys.executable, str(RUN_TRACKER), *track_args(clip, box, out)], cwd=RUN_TRACKER.parent, stderr=subprocess.PIPE
    )
    seen = b""
    while b"tracking:" not in seen:
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            process.kill()
            pytest.fail(f"run_tracker.py ended before tracking: {seen.decode()}")
        seen += chunk
    return process, seen


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_stop_signal_from_the_shell_keeps_what_was_tracked(tmp_path, stop):
    frames, box = moving_square(300, step=(0, 0))
    clip = write_clip(tmp_path / "long.mp4", frames)
    out = tmp_path / "out"
    process, seen = start_tracking(clip, box, out)
    try:
        time.sleep(1)
        process.send_signal(stop)
        stderr = (seen + process.stderr.read()).decode()
        assert process.wait(timeout=60) == 2, stderr
    finally:
        process.kill()
    assert "Traceback" not in stderr
    assert "interrupted at frame" in stderr.splitlines()[-1]
    count = len((out / "out.txt").read_text().splitlines())
    assert 0 < count < 300
    assert len(decode(out / "out.mp4")) == count
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("delay", [0.1, 0.3, 0.6])
def test_ctrl_c_while_starting_up_is_no_traceback(tmp_path, delay):
    frames, box = moving_square(8)
    clip = write_clip(tmp_path / "clip.mp4", frames)
    process = subprocess.Popen(
        [sys.executable, str(RUN_TRACKER), *track_args(clip, box, tmp_path)],
        cwd=RUN_TRACKER.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)  # in the imports, the parsing or the tracker's making
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    # A signal while the interpreter itself starts (running the site-packages' .pth files) ends it
    # with Python's own fatal error and traceback, before any line of ours runs.
    if not stderr.startswith("Fatal Python error: init_import_site"):
        assert "Traceback" not in stderr
        assert process.returncode in (-signal.SIGINT, 0, 2, 130), stderr  # killed before Python started, or stopped
    assert temp_files(tmp_path) == []


def test_closed_stderr_keeps_progress_out_of_stdout(tmp_path):
    frames, box = moving_square(8)
    clip = write_clip(tmp_path / "clip.mp4", frames)
    command = " ".join([sys.executable, str(RUN_TRACKER), *track_args(clip, box, tmp_path)])
    done = subprocess.run(
        ["sh", "-c", command + " 2>&-"], cwd=RUN_TRACKER.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        f"wrote {tmp_path / 'out.mp4'} (8 frames)",
        f"wrote {tmp_path / 'out.txt'} (8 frames)",
    ]
    assert len(decode(tmp_path / "out.mp4")) == 8


def test_unwritable_benchmark_out_is_refused_before_the_runs(tmp_path, capfd):
    write_sequence(tmp_path / "data", "s", 4)
    (tmp_path / "file").write_text("a regular file, not a folder\n")
    assert benchmark(tmp_path / "data", tmp_path / "file" / "out") == 2
    err = capfd.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: cannot write into {tmp_path / 'file' / 'out'}")
    assert "runs to do" not in err


def test_track_removes_what_a_killed_run_left_but_not_a_running_ones(tmp_path):
    frames, box = moving_square(300, step=(0, 0))
    clip = write_clip(tmp_path / "long.mp4", frames)
    out = tmp_path / "out"
    process, _ = start_tracking(clip, box, out)
    process.kill()  # SIGKILL: no chance to clean up
    process.wait()
    process.stderr.close()
    assert temp_files(out), "the killed run left no temporary file to clean up"
    with atomic_path(out / "other.txt") as running:  # another run, still writing into the folder
        assert cli.main(track_args(clip, box, out)) == 0
        assert temp_files(out) == [Path(running)]


def test_track_removes_day_old_temporaries_that_name_no_writer(tmp_path):
    frames, box = moving_square(4)
    clip = write_clip(tmp_path / "clip.mp4", frames)
    out = tmp_path / "out"
    out.mkdir()
    old, recent = out / ".out.txt.k3j_x9q2.tmp", out / ".out.mp4.a8b7c6d5.tmp"  # as mkstemp named them
    for path in (old, recent):
        path.write_text("")
    day_ago = time.time() - 24 * 3600 - 60
    os.utime(old, (day_ago, day_ago))
    assert cli.main(track_args(clip, box, out)) == 0
    assert temp_files(out) == [recent]  # may still be a live writer's


@pytest.fixture(scope="module")
def tracker():
    return build_tracker()


def assert_tracks(tracker, frames, box):
    """Every frame goes through; the boxes are finite with a size, and `lost` is a bool."""
    tracker.init(frames[0], box)
    for frame in frames[1:]:
        out, score = tracker.update(frame)
        assert np.all(np.isfinite(out)) and np.all(out[2:] > 0) and np.isfinite(score)
        assert isinstance(tracker.lost, bool)


def test_gray_frames(tracker):
    frames, box = moving_square(3)
    assert_tracks(tracker, [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames], box)


def test_16_bit_frames_through_to_bgr8(tracker):
    frames, box = moving_square(3)
    assert_tracks(tracker, [to_bgr8(f.astype(np.uint16) * 257) for f in frames], box)


def test_frames_with_alpha(tracker):
    frames, box = moving_square(3)
    assert_tracks(tracker, [cv2.cvtColor(f, cv2.COLOR_BGR2BGRA) for f in frames], box)


def test_one_pixel_wide_frames_from_a_folder(tracker, tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), square_frame(0, 10 + 5 * i, 20, size=(1, 60)))
    with open_source(tmp_path) as source:
        frames = list(source)
    assert frames[0].shape == (60, 1, 3)
    assert_tracks(tracker, frames, (0, 10, 1, 20))


def test_8k_frames(tracker):
    frames = [square_frame(3000 + 40 * i, 2000, 400, size=(7680, 4320)) for i in range(2)]
    assert_tracks(tracker, frames, (3000, 2000, 400, 400))


def test_target_shrinking_to_a_few_pixels(tracker):
    sides = np.linspace(48, 3, 8).round().astype(int)
    frames = [square_frame(60 - s // 2, 60 - s // 2, s) for s in sides]
    assert_tracks(tracker, frames, (60 - 24, 60 - 24, 48, 48))


def test_target_leaving_the_frame_and_coming_back(tracker):
    xs = [*range(100, 200, 20), *range(200, 90, -20)]
    assert_tracks(tracker, [square_frame(x, 40, 32) for x in xs], (100, 40, 32, 32))


def write_sequence(root, name, count, boxes=None, start=(20, 20)):
    """A 'video' layout sequence: the moving square, and its ground truth (or the given lines)."""
    folder = root / "sequences" / name
    frames, (x, y, w, h) = moving_square(count, start=start, step=(3, 1))
    write_clip(folder / "frames.mp4", grainy(frames))
    lines = boxes or [f"{x + 3 * i},{y + i},{w},{h}" for i in range(count)]
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return folder


def benchmark(root, out, *extra):
    return cli.main(
        ["benchmark", "--dataset", str(root), "--format", "video", "--trackers", "kcf,mosse", "--out", str(out), *extra]
    )


def test_malformed_ground_truth_line_is_named(tmp_path, capfd):
    lines = ["20,20,32,32", "23,21,32,32", "26,22,32", "29,23,32,32"]
    folder = write_sequence(tmp_path / "data", "bad", 4, boxes=lines)
    assert benchmark(tmp_path / "data", tmp_path / "out") == 2
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert f"{folder / 'groundtruth.txt'} line 3" in err[0]


def test_frame_and_box_counts_that_differ_need_lenient(tmp_path, capfd):
    lines = [f"{20 + 3 * i},{20 + i},32,32" for i in range(5)]
    write_sequence(tmp_path / "data", "short", 6, boxes=lines)
    assert benchmark(tmp_path / "data", tmp_path / "out") == 2
    err = capfd.readouterr().err
    assert "6 frames but 5 ground-truth boxes" in err and "--lenient" in err
    assert benchmark(tmp_path / "data", tmp_path / "out", "--lenient") == 0
    assert len((tmp_path / "out" / "kcf" / "short.txt").read_text().splitlines()) == 5


def without_times(value):
    """A results.json with the time-dependent entries (fps, the run's date) taken out, at every depth."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in ("fps", "time", "times", "date")}
    return value


def test_killed_benchmark_resumes_to_the_same_results(tmp_path):
    data = tmp_path / "data"
    for i in range(10):
        write_sequence(data, f"s{i}", 40, start=(10 + 2 * i, 20))
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    # Kill once some of the 20 results are written, at a random point of the next one.
    results, delay = random.randint(1, 10), random.uniform(0, 0.05)
    when = f"killed {delay:.3f}s after result {results}"
    process = subprocess.Popen(
        [
            sys.executable,
            str(RUN_TRACKER),
            "benchmark",
            "--dataset",
            str(data),
            "--format",
            "video",
            "--trackers",
            "kcf,mosse",
            "--out",
            str(killed),
        ],
        cwd=RUN_TRACKER.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(list(killed.glob("*/*.json"))) < results:
            assert process.poll() is None, "the benchmark ended before it was killed"
            time.sleep(0.005)
        time.sleep(delay)
        process.kill()
        assert process.wait(timeout=60) == -signal.SIGKILL, f"the benchmark finished before it was {when}"
    finally:
        process.kill()
    assert len(list(killed.glob("*/*.json"))) < 20, when

    assert benchmark(data, killed) == 0
    assert benchmark(data, clean) == 0
    resumed, fresh = (json.loads((out / "results.json").read_text()) for out in (killed, clean))
    assert without_times(resumed) == without_times(fresh), when
    assert temp_files(killed) == [], when


def test_rerun_clears_temporary_files_of_a_killed_run(tmp_path):
    write_sequence(tmp_path / "data", "s", 4)
    # What a kill during a save leaves: atomic_path's temporary name beside the result.
    stale = tmp_path / "out" / "kcf" / ".s.txt.x1y2z3.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("20.00,20.00,32.00,32.00\n")
    assert benchmark(tmp_path / "data", tmp_path / "out") == 0
    assert temp_files(tmp_path / "out") == []


def test_tune_with_missing_weights_is_one_error_line(tmp_path, capfd):
    write_sequence(tmp_path / "data", "seq", 4)
    (tmp_path / "data" / "train.txt").write_text("seq\n")
    (tmp_path / "config.yaml").write_text(f"weights: {tmp_path / 'missing.pt'}\n")
    split, out = tmp_path / "data" / "train.txt", tmp_path / "out"
    argv = ["tune", "--config", str(tmp_path / "config.yaml"), "--split", str(split), "--out", str(out)]
    assert cli.main(argv) == 2
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.pt" in err[0], err
    assert not out.exists()
