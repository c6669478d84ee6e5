"""`serve`: a local web page to track with. Open a video (uploaded, or a file under the folder
served), draw boxes on its first frame, watch the tracking, pause or stop it, correct it from any
frame, and download the annotated MP4, the boxes and the score plot's figures. FastAPI and uvicorn
serve it; the page is one static file (webpage/index.html), nothing fetched from the internet.

Each job tracks in a thread of its own, keeps its results in memory (so the page finds a job again
after a reload, by its id in the address) and writes its files whole, once, when it finishes: a
stopped or failed job leaves none.
"""

import contextlib
import importlib.util
import itertools
import os
import shutil
import socket
import threading
import time
import uuid

import cv2
import numpy as np

from .annotate import draw, draw_targets
from .errors import UserError
from .fileio import atomic_write
from .outputs import BoxWriter
from .video import VIDEO_EXTENSIONS, VideoWriter, open_source

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "webpage", "index.html")
FILES = {"mp4": "tracked.mp4", "txt": "boxes.txt", "mot": "boxes_mot.txt", "json": "boxes.json", "csv": "boxes.csv"}
CHUNK = 1 << 20


class Video:
    """A video opened for the page: its size, fps and frame count, and any frame by number (one
    decoder kept where the last read stopped: scrubbing forward costs the frames in between)."""

    def __init__(self, path, name):
        self.path, self.name = path, name
        with open_source(path) as source:
            self.size, self.fps = source.size, source.fps
            self.count = sum(1 for _ in source)  # a header's count can be wrong; decoding is not
        self._lock = threading.Lock()
        self._source, self._next = None, 0

    def frame(self, n):
        with self._lock:
            if self._source is None or n < self._next:
                self.close()
                self._source, self._next = open_source(self.path), 0
            frame = next(itertools.islice(self._source, n - self._next, None))
            self._next = n + 1
            return frame

    def frames_from(self, n):
        """The frames from number n on, through a decoder of their own."""
        with open_source(self.path) as source:
            yield from itertools.islice(source, n, None)

    def close(self):
        if self._source is not None:
            self._source.close()
            self._source = None

    def about(self):
        return {"name": self.name, "width": self.size[0], "height": self.size[1], "frames": self.count, "fps": self.fps}


class Stopped(Exception):
    """The user stopped the job."""


class Job:
    """Tracking `video` from its first frame with `boxes`, with a tracker for several targets made
    by `make()`, in a thread; pause(), resume(), stop() and correct(frame, boxes) steer it, and its
    files go into a folder named for its id in `jobs` when it finishes, the JSON with `details` (how
    the boxes were made)."""

    def __init__(self, video, boxes, make, jobs, details=None):
        self.id, self.video, self.details = uuid.uuid4().hex, video, details or {}
        self.folder = os.path.join(jobs, self.id)
        self.tracker = make()
        self.targets = len(boxes)
        self.results = []  # per frame: boxes (targets x 4), scores, lost
        self.latest = None  # the last frame tracked: (number, frame)
        self.state, self.error, self.fps = "tracking", None, 0.0
        self._running = threading.Event()
        self._running.set()
        self._stop = False
        self._correction = None
        self._lock = threading.Lock()
        self._thread = None
        self._start((0, np.asarray(boxes, float)))

    def _start(self, pending):
        self._thread = threading.Thread(target=self._run, args=(pending,), daemon=True)
        self._thread.start()

    def _run(self, pending):
        try:
            while pending is not None:
                pending = self._track(*pending)
            self.state = "writing"
            self._write()
            self.state = "done"
        except Stopped:
            self.state = "stopped"
            shutil.rmtree(self.folder, ignore_errors=True)
        except Exception as e:  # noqa: BLE001 - any failure is the job's, reported on the page
            self.state, self.error = "failed", str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
            shutil.rmtree(self.folder, ignore_errors=True)

    def _track(self, start, boxes):
        """Track from frame `start` (its boxes given) to the end; a correction asked for on the way
        ends it early and is returned, to start from."""
        with contextlib.closing(self.video.frames_from(start)) as frames:
            return self._track_frames(start, boxes, frames)

    def _track_frames(self, start, boxes, frames):
        first = next(frames)
        if start == 0:
            self.tracker.init(first, boxes)
        else:
            for tracker, (x, y, w, h) in zip(self.tracker.trackers, boxes):
                tracker.correct(centre=(x + w / 2, y + h / 2), size=(w, h))
        with self._lock:
            del self.results[start:]
            self.results.append((boxes, np.ones(len(boxes)), np.zeros(len(boxes), bool)))
            self.latest = start, first
        tic, done = time.perf_counter(), 0
        for frame in frames:
            self._running.wait()
            if self._stop:
                raise Stopped
            if self._correction is not None:
                pending, self._correction = self._correction, None
                return pending
            found = self.tracker.update(frame)
            with self._lock:
                self.results.append(
                    (np.array([b for b, _ in found]), np.array([s for _, s in found]), np.array(self.tracker.lost))
                )
                self.latest = len(self.results) - 1, frame
            done += 1
            self.fps = done / (time.perf_counter() - tic)
        return self._correction

    def _write(self):
        """The annotated video and the box files, each written whole."""
        os.makedirs(self.folder, exist_ok=True)
        about = {"source": self.video.name, "frame_size": list(self.video.size), "fps": self.video.fps, **self.details}
        for kind in ("txt", "mot", "json", "csv"):
            with atomic_write(os.path.join(self.folder, FILES[kind])) as f:
                writer = BoxWriter(f, kind, about, self.targets)
                for n, row in enumerate(self.results):
                    writer.add(n, *row)
                writer.finish()
        with VideoWriter(os.path.join(self.folder, FILES["mp4"]), self.video.fps) as video:
            for n, frame in enumerate(self.video.frames_from(0)):
                video.write(self.picture(frame, n))

    def live(self):
        """The last frame tracked, drawn with its boxes, or None before the first."""
        with self._lock:  # a correction may cut the results at any moment
            if self.latest is None:
                return None
            n, frame = self.latest
            row = self.results[n]
        return self.picture(frame, n, row)

    def picture(self, frame, n, row=None):
        boxes, scores, lost = self.results[n] if row is None else row
        if self.targets == 1:
            return draw(frame, boxes[0], scores[0], n, lost=bool(lost[0]))
        return draw_targets(frame, boxes, scores, n, lost=lost)

    def pause(self):
        if self.state == "tracking":
            self._running.clear()
            self.state = "paused"

    def resume(self):
        if self.state == "paused":
            self.state = "tracking"
            self._running.set()

    def stop(self):
        self._stop = True
        self._running.set()

    def correct(self, frame, boxes):
        """Put the targets at `boxes` on frame number `frame` (tracked already) and track on from
        there; the frames after it are tracked again."""
        if not 0 <= frame < len(self.results):
            raise UserError(f"frame {frame} is not tracked yet; correct a frame from 0 to {len(self.results) - 1}")
        if len(boxes) != self.targets:
            raise UserError(f"give a box for each of the {self.targets} targets")
        pending = (frame, np.asarray(boxes, float))
        if self.state in ("done", "failed", "stopped"):
            shutil.rmtree(self.folder, ignore_errors=True)
            self._stop, self.error, self.state = False, None, "tracking"
            self._start(pending)
        else:
            self._correction = pending
            self.resume()

    def status(self):
        with self._lock:
            tracked = len(self.results)
            last = self.results[-1] if self.results else None
        left = (self.video.count - tracked) / self.fps if self.fps and self.state == "tracking" else None
        status = {
            "id": self.id,
            "state": self.state,
            "error": self.error,
            "tracked": tracked,
            "frames": self.video.count,
            "fps": round(self.fps, 1),
            "seconds_left": None if left is None else round(left, 1),
        }
        if last is not None:
            status["boxes"] = last[0].round(2).tolist()
        status["files"] = list(FILES) if self.state == "done" else []
        return status

    def series(self):
        """Every tracked frame's boxes, scores and lost flags, target by target."""
        with self._lock:
            rows = list(self.results)
        return {
            "boxes": [r[0].round(2).tolist() for r in rows],
            "scores": [r[1].round(4).tolist() for r in rows],
            "lost": [r[2].tolist() for r in rows],
        }


def jpeg(frame):
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return data.tobytes()


def under(root, relative):
    """`relative` inside the folder `root`, or a UserError: nothing outside it is ever opened."""
    path = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath([path, os.path.realpath(root)]) != os.path.realpath(root):
        raise UserError(f"{relative} is outside the folder served; choose a video under it")
    if not os.path.isfile(path):
        raise UserError(f"no such video under the folder served: {relative}")
    return path


def video_files(root, limit=500):
    """Videos under `root`, relative paths in name order (at most `limit`)."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.relpath(os.path.join(folder, n), root) for n in sorted(names) if is_video_name(n)]
        if len(found) >= limit:
            break
    return found[:limit]


def is_video_name(name):
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def make_app(root, work, make_tracker, max_upload=500 << 20, details=None):
    """The FastAPI app: videos from uploads (at most `max_upload` bytes) or under `root`; jobs'
    files in `work`; `make_tracker()` makes a tracker for several targets for each job, and the JSON
    boxes record `details`."""
    from fastapi import FastAPI, HTTPException, Request, UploadFile
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

    app = FastAPI(title="siamtrack")
    videos, jobs = {}, {}
    uploads = os.path.join(work, "uploads")
    too_big = f"larger than the {max_upload >> 20} MB upload limit; trim it, or open it from the folder served"

    @app.exception_handler(UserError)
    def user_error(request, e):
        return JSONResponse({"error": str(e)}, status_code=400)

    def found(table, key, what):
        if key not in table:
            raise HTTPException(404, f"no {what} {key}; open the video again")
        return table[key]

    def opened(path, name):
        video = Video(path, name)
        vid = uuid.uuid4().hex
        videos[vid] = video
        return {"id": vid, **video.about()}

    @app.get("/", response_class=HTMLResponse)
    def page():
        with open(PAGE, encoding="utf-8") as f:
            return f.read()

    @app.get("/api/files")
    def files():
        return {"root": os.path.abspath(root), "files": video_files(root)}

    @app.post("/api/videos/path")
    def open_path(body: dict):
        relative = str(body.get("path", ""))
        return opened(under(root, relative), relative)

    @app.post("/api/videos/upload")
    def upload(file: UploadFile, request: Request):
        name = os.path.basename(file.filename or "upload")
        if int(request.headers.get("content-length") or 0) > max_upload + CHUNK:
            raise UserError(f"{name} is {too_big}")
        os.makedirs(uploads, exist_ok=True)
        path = os.path.join(uploads, uuid.uuid4().hex + os.path.splitext(name)[1].lower())
        try:
            size = 0
            with open(path, "wb") as out:
                while chunk := file.file.read(CHUNK):
                    size += len(chunk)
                    if size > max_upload:
                        raise UserError(f"{name} is {too_big}")
                    out.write(chunk)
            try:
                return opened(path, name)
            except UserError:
                raise UserError(f"{name} is not a video FFmpeg can read; upload a video file, e.g. an MP4") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(path)
            raise

    @app.get("/api/videos/{vid}/frames/{n}")
    def frame(vid: str, n: int):
        video = found(videos, vid, "video")
        if not 0 <= n < video.count:
            raise UserError(f"frame {n} is not in the video; give 0 to {video.count - 1}")
        return Response(jpeg(video.frame(n)), media_type="image/jpeg")

    @app.post("/api/jobs")
    def start(body: dict):
        video = found(videos, str(body.get("video")), "video")
        boxes = body.get("boxes") or []
        if not boxes:
            raise UserError("draw a box round each target on the first frame, then start tracking")
        job = Job(video, checked_boxes(boxes, video.size), make_tracker, os.path.join(work, "jobs"), details)
        jobs[job.id] = job
        return {"id": job.id}

    @app.get("/api/jobs/{jid}")
    def status(jid: str):
        job = found(jobs, jid, "job")
        video = next(k for k, v in videos.items() if v is job.video)
        return {**job.status(), "video": {"id": video, **job.video.about()}}

    @app.get("/api/jobs/{jid}/series")
    def series(jid: str):
        return found(jobs, jid, "job").series()

    @app.get("/api/jobs/{jid}/live")
    def live(jid: str):
        picture = found(jobs, jid, "job").live()
        if picture is None:
            raise HTTPException(404, "nothing tracked yet")
        return Response(jpeg(picture), media_type="image/jpeg")

    @app.post("/api/jobs/{jid}/{action}")
    def steer(jid: str, action: str, body: dict | None = None):
        job = found(jobs, jid, "job")
        if action == "correct":
            job.correct(
                int((body or {}).get("frame", -1)), checked_boxes((body or {}).get("boxes") or [], job.video.size)
            )
        elif action in ("pause", "resume", "stop"):
            getattr(job, action)()
        else:
            raise HTTPException(404, f"no action {action}; use pause, resume, stop or correct")
        return job.status()

    @app.get("/api/jobs/{jid}/files/{kind}")
    def download(jid: str, kind: str):
        job = found(jobs, jid, "job")
        if job.state != "done" or kind not in FILES:
            raise UserError(f"no {kind} file: the job is {job.state}; download when it is done")
        stem = os.path.splitext(job.video.name)[0].replace("/", "_") or "video"
        name = f"{stem}_{FILES[kind]}"
        return FileResponse(os.path.join(job.folder, FILES[kind]), filename=name)

    return app


def checked_boxes(boxes, size):
    """Boxes from the page as x, y, w, h floats inside a frame of `size`, or a UserError."""
    from .siamfc import check_box

    try:
        return [check_box(box, size[::-1]).tolist() for box in boxes]
    except (TypeError, ValueError):
        raise UserError("boxes must be lists of four numbers x, y, w, h") from None


def serve(host, port, root, work, make_tracker, max_upload_mb=500, details=None, log=None):
    """Run the page's server until Ctrl-C; the JSON boxes it writes record `details`."""
    missing = [name for name in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"serve needs {', '.join(missing)}, not installed; pip install -e '.[web]' (or siamtrack[web])")
    import uvicorn

    if not os.path.isdir(root):
        raise UserError(f"--root {root} is not a folder; give the folder whose videos the page may open")
    with socket.socket() as probe:  # uvicorn would say so only after the address was printed
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); give another --port or --host") from None
    app = make_app(root, work, make_tracker, max_upload_mb << 20, details)
    print(f"siamtrack: open http://{host}:{port}/ (videos under {os.path.abspath(root)}); Ctrl-C stops", file=log)
    uvicorn.run(app, host=host, port=port, log_level="warning")
