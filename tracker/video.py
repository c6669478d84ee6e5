"""Frames in and out: video files, folders of images and cameras in; H.264 MP4 out."""

import contextlib
import fractions
import functools
import os
import re
import warnings

import av
import cv2
import numpy as np

from .errors import UserError
from .fileio import atomic_path
from .pixels import to_bgr8

IMAGE_EXTENSIONS = {".bmp", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"}
# What a folder of videos is taken to hold; a single video file may have any extension FFmpeg reads.
VIDEO_EXTENSIONS = {".avi", ".flv", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".ts", ".webm", ".wmv"}
DEFAULT_FPS = 30.0
# First match wins; plain 'h264' is whatever H.264 encoder the FFmpeg build registered first.
H264_ENCODERS = ("libx264", "libopenh264", "h264")


class FrameSource:
    """A one-pass iterable of BGR uint8 frames.

    fps: frames per second (30 when unknown); size: (width, height);
    count: the expected number of frames, None when unknown (cameras).
    """

    def __init__(self, frames, fps, size, count, release=None):
        self._frames = frames
        self.fps = fps
        self.size = size
        self.count = count
        self._release = release

    def __iter__(self):
        return self._frames

    def close(self):
        self._frames.close()
        if self._release:
            self._release()
            self._release = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def is_url(text):
    """Whether `text` is a stream URL (rtsp://, http://, ...), which FFmpeg opens itself."""
    return re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", text) is not None


def _names(folder, extensions):
    names = (n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in extensions)
    return sorted(names, key=_natural_key)


def expand_sources(sources):
    """The sources to track one by one: a folder that holds videos and no images stands for its
    videos in name order; any other source is itself (a folder of images is one sequence of frames)."""
    expanded = []
    for source in map(os.fspath, sources):
        videos = os.path.isdir(source) and not _names(source, IMAGE_EXTENSIONS) and _names(source, VIDEO_EXTENSIONS)
        expanded.extend([os.path.join(source, name) for name in videos] if videos else [source])
    return expanded


def open_source(source: str | int | os.PathLike):
    """A video file, a stream URL, a folder of images (natural name order) or a camera index ("0" or 0)."""
    if isinstance(source, int):
        return _open_camera(source)
    path = os.fspath(source)
    if is_url(path):
        return _open_video(path)
    if os.path.isdir(path):
        return _open_folder(path)
    if os.path.isfile(path):
        return _open_video(path)
    if path.isdigit():
        return _open_camera(int(path))
    raise UserError(
        f"no such file or folder: {path}; give a video file, a stream URL, a folder of frames or a camera index"
    )


def _open_video(path):
    # PyAV rather than cv2.VideoCapture: OpenCV's reader fails on some valid H.264 files.
    not_video = (
        f"cannot read the stream {path}; check the URL, and that the server is up and sends video"
        if is_url(path)
        else f"cannot read {path}: not a video file FFmpeg can decode; give a video (e.g. MP4) or a folder of frames"
    )
    try:
        container = av.open(path)
        stream = container.streams.video[0]
    except (av.FFmpegError, IndexError):
        raise UserError(not_video) from None
    fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
    count = stream.frames or (round(container.duration / av.time_base * fps) if container.duration else None)

    # Keep PyAV's default slice threading: frame threading drops a damaged packet silently.
    def decode():
        index, size = 0, None
        try:
            for frame in container.decode(stream):
                # A stream may change resolution mid-way; boxes found in the first size's pixels
                # mean nothing in another's.
                size = size or (frame.width, frame.height)
                if (frame.width, frame.height) != size:
                    raise UserError(
                        f"{path} changes frame size at frame {index}, from {size[0]}x{size[1]} to "
                        f"{frame.width}x{frame.height}; re-encode it at one size, or use the "
                        f"{index} frames before it"
                    )
                yield frame.to_ndarray(format="bgr24")
                index += 1
        except av.FFmpegError as e:
            raise UserError(
                f"cannot decode {path} at frame {index} ({e.strerror}): the file is damaged; "
                f"re-encode it, or use the {index} frames before it"
            ) from None

    frames = decode()
    try:
        first = next(frames)
    except (StopIteration, UserError):
        container.close()
        raise UserError(not_video) from None
    height, width = first.shape[:2]
    return FrameSource(_prepend(first, frames), fps, (width, height), count, container.close)


def _natural_key(name):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_image(path):
    """One image file as 8-bit BGR, or a UserError naming it."""
    # imdecode from bytes: cv2.imread can't open non-ASCII paths on Windows.
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise UserError(f"cannot read image {path}; remove it from the folder or replace it with a valid image")
    return to_bgr8(img)


def _open_folder(folder):
    names = _names(folder, IMAGE_EXTENSIONS)
    if not names:
        raise UserError(f"no images or videos in folder {folder}; put the frames there as numbered .jpg or .png files")
    first = read_image(os.path.join(folder, names[0]))
    height, width = first.shape[:2]

    def read_rest():
        for name in names[1:]:
            img = read_image(os.path.join(folder, name))
            if img.shape[:2] != (height, width):
                raise UserError(
                    f"frames differ in size in {folder}: {name} is {img.shape[1]}x{img.shape[0]}, "
                    f"{names[0]} is {width}x{height}; resize all frames to one size"
                )
            yield img

    return FrameSource(_prepend(first, read_rest()), DEFAULT_FPS, (width, height), len(names))


def _open_camera(index):
    # OpenCV prints its own warnings for a missing camera; ours is the one line the user needs.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(index)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not capture.isOpened():
        raise UserError(f"cannot open camera {index}; check that it is connected and free, or give a video file")

    def read():
        while True:
            ok, img = capture.read()
            if not ok:
                return
            yield to_bgr8(img)

    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return FrameSource(read(), capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS, size, None, capture.release)


def _prepend(first, rest):
    yield first
    yield from rest


@functools.cache
def h264_encoder():
    """Name of the first H.264 encoder this PyAV build has, or 'mpeg4' (with a warning) if none."""
    for name in H264_ENCODERS:
        try:
            av.Codec(name, "w")
            return name
        except av.FFmpegError:
            pass
    warnings.warn(
        "this PyAV build has no H.264 encoder; writing MPEG-4 part 2 video, which browsers may not play", stacklevel=2
    )
    return "mpeg4"


class VideoWriter:
    """Write BGR frames to an MP4 that browsers play (H.264, yuv420p, index at the front).

    The file appears at `path` only after close(); abort() discards it. As a context
    manager it closes on success or Ctrl-C (keeping the frames so far), aborts otherwise.
    """

    def __init__(self, path, fps=DEFAULT_FPS):
        self.path = os.fspath(path)
        self.fps = fps
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._size = None
        self._container = None
        self._stream = None

    def write(self, frame):
        frame = to_bgr8(frame)
        if self._size is None:
            self._start(frame.shape[1], frame.shape[0])
        height, width = frame.shape[:2]
        if (width, height) != self._size:
            raise ValueError(f"frame size {width}x{height} differs from the first frame's {self._size}")
        # yuv420p needs even dimensions: repeat the last row/column to get there.
        frame = cv2.copyMakeBorder(frame, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        self._mux(av.VideoFrame.from_ndarray(frame, format="bgr24"))

    def _start(self, width, height):
        self._size = (width, height)
        self._container = av.open(self._tmp, "w", format="mp4", options={"movflags": "+faststart"})
        rate = fractions.Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream(h264_encoder(), rate=rate)
        self._stream.width = width + width % 2
        self._stream.height = height + height % 2
        self._stream.pix_fmt = "yuv420p"
        if self._stream.codec_context.name == "libx264":
            # x264's default preset costs more time per frame than the tracker itself.
            self._stream.options = {"preset": "veryfast"}

    def _mux(self, frame):
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self):
        """Finish the file and move it to `path` (with no frames written, there is no file)."""
        if self._atomic is None:
            return
        if self._container is None:
            self._leave(_Aborted())
            return
        try:
            self._mux(None)  # flush the frames the encoder still holds
            self._container.close()
        except BaseException as e:
            self._leave(e)
            raise
        self._leave(None)

    def abort(self):
        """Stop writing and delete the partial file; `path` is left as it was."""
        if self._atomic is None:
            return
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError):
                self._container.close()
        self._leave(_Aborted())

    def _leave(self, error):
        # Leaving atomic_path with an error deletes the temporary file instead of renaming it.
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(type(error) if error else None, error, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()


class _Aborted(Exception):
    pass
