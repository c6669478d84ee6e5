import os

import av
import cv2
import numpy as np
import pytest

from tracker.errors import UserError
from tracker.video import VideoWriter, expand_sources, h264_encoder, open_source, to_bgr8


def moving_square(index, width=64, height=48):
    """A smooth frame whose content changes, so every encoded frame carries data."""
    frame = np.full((height, width, 3), (40, 90, 140), np.uint8)
    x = 4 + index % (width - 20)
    frame[10:26, x : x + 16] = (250, 250, 250)
    return frame


def write_video(path, count, width=64, height=48):
    frames = [moving_square(i, width, height) for i in range(count)]
    with VideoWriter(path, fps=25) as writer:
        for frame in frames:
            writer.write(frame)
    return frames


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255**2 / mse)


def test_round_trip_keeps_frames_and_rate(tmp_path):
    path = tmp_path / "clip.mp4"
    written = write_video(path, 12)
    with open_source(path) as source:
        assert source.fps == 25
        assert source.size == (64, 48)
        assert source.count == 12
        read = list(source)
    assert len(read) == 12
    assert all(psnr(a, b) > 30 for a, b in zip(written, read))


def test_writer_uses_h264_and_pads_odd_sizes(tmp_path):
    path = tmp_path / "odd.mp4"
    frame = np.zeros((33, 45, 3), np.uint8)
    frame[:, -1] = 255  # the last column must be repeated into the padding
    with VideoWriter(path) as writer:
        writer.write(frame)
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context
        assert (codec.width, codec.height) == (46, 34)
        if h264_encoder() != "mpeg4":
            assert codec.name == "h264"
    with open_source(path) as source:
        (read,) = list(source)
    assert read.shape == (34, 46, 3)
    assert read[:, -1].mean() > 200


def test_moov_atom_is_at_the_front(tmp_path):
    path = tmp_path / "web.mp4"
    write_video(path, 3)
    head = path.read_bytes()[:4096]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_abort_leaves_no_file(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4")
    writer.write(moving_square(0))
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_exception_inside_writer_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "out.mp4") as writer:
            writer.write(moving_square(0))
            raise RuntimeError("tracker crashed")
    assert os.listdir(tmp_path) == []


def test_ctrl_c_keeps_frames_written_so_far(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(path) as writer:
            for i in range(5):
                writer.write(moving_square(i))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["out.mp4"]
    with open_source(path) as source:
        assert len(list(source)) == 5


def test_abort_keeps_an_existing_file(tmp_path):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"old")
    writer = VideoWriter(path)
    writer.write(moving_square(0))
    writer.abort()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_truncated_video_names_the_frame_where_decoding_stopped(tmp_path):
    path = tmp_path / "cut.mp4"
    noise = np.random.default_rng(0).integers(0, 256, (60, 48, 64, 3), dtype=np.uint8)
    with VideoWriter(path) as writer:
        for frame in noise:  # noise doesn't compress, so half the bytes is about half the frames
            writer.write(frame)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    read = []
    with open_source(path) as source:
        with pytest.raises(UserError, match=r"at frame (\d+)") as error:
            for frame in source:
                read.append(frame)
    stopped = int(error.value.args[0].split("at frame ")[1].split()[0])
    assert 0 < stopped < 60
    assert len(read) == stopped


def save_png(path, value, size=(8, 6)):
    cv2.imwrite(str(path), np.full((size[1], size[0], 3), value, np.uint8))


def test_folder_frames_come_in_natural_order(tmp_path):
    for number in (10, 2, 1):
        save_png(tmp_path / f"{number}.png", number)
    (tmp_path / "notes.txt").write_text("not a frame")
    with open_source(tmp_path) as source:
        assert source.count == 3
        assert source.size == (8, 6)
        assert [int(f[0, 0, 0]) for f in source] == [1, 2, 10]


def test_folder_with_mixed_sizes_names_both_sizes(tmp_path):
    save_png(tmp_path / "a1.png", 0)
    save_png(tmp_path / "a2.png", 0)
    save_png(tmp_path / "a3.png", 0, size=(10, 4))
    with open_source(tmp_path) as source:
        frames = iter(source)
        next(frames), next(frames)
        with pytest.raises(UserError, match=r"a3\.png is 10x4, a1\.png is 8x6"):
            next(frames)


def test_missing_path(tmp_path):
    with pytest.raises(UserError, match="no such file or folder: .*camera index"):
        open_source(tmp_path / "nothing.mp4")


def test_garbage_file(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(UserError, match="not a video file"):
        open_source(path)


def test_empty_folder(tmp_path):
    with pytest.raises(UserError, match="no images or videos in folder"):
        open_source(tmp_path)


def test_folder_of_videos_stands_for_its_videos_and_a_folder_of_frames_for_itself(tmp_path):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    videos.mkdir(), frames.mkdir()
    for name in ("clip10.mp4", "clip9.MOV", "notes.txt"):
        (videos / name).write_bytes(b"")
    save_png(frames / "1.png", 0)
    (frames / "clip.mp4").write_bytes(b"")  # beside frames, a video is not what the folder holds
    given = [str(videos), str(frames), "0", "rtsp://camera/live"]
    expected = [str(videos / "clip9.MOV"), str(videos / "clip10.mp4"), *given[1:]]
    assert expand_sources(given) == expected


def test_camera_that_does_not_open():
    with pytest.raises(UserError, match="cannot open camera 57"):
        open_source("57")


def test_to_bgr8_gray_repeats_the_channel():
    gray = np.array([[0, 100], [200, 255]], np.uint8)
    out = to_bgr8(gray)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert (out == gray[:, :, None]).all()
    assert (to_bgr8(gray[:, :, None]) == out).all()


def test_to_bgr8_16_bit_keeps_the_high_byte():
    img = np.full((2, 3), 0x12F0, np.uint16)
    assert (to_bgr8(img) == 0x12).all()


def test_to_bgr8_float_is_taken_as_0_to_1():
    img = np.array([[-1.0, 0.5, 2.0]], np.float32)
    assert to_bgr8(img)[0, :, 0].tolist() == [0, 128, 255]


def test_to_bgr8_drops_alpha_on_a_one_pixel_wide_image():
    bgra = np.zeros((5, 1, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 7, 99
    out = to_bgr8(bgra)
    assert out.shape == (5, 1, 3)
    assert out[:, 0].tolist() == [[7, 0, 0]] * 5


def test_demo_clip_opens_and_its_box_lies_inside_the_first_frame():
    folder = os.path.join(os.path.dirname(__file__), "..", "videos")
    x, y, w, h = np.loadtxt(os.path.join(folder, "bunny.txt"), delimiter=",")
    with open_source(os.path.join(folder, "bunny.mp4")) as source:
        assert source.size == (640, 360) and source.count == 116
        assert len(list(source)) == 116
    assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 640 and y + h <= 360
