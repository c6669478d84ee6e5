"""Files appear whole or not at all: write to a temporary name, rename when complete."""

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time

from .errors import UserError

UMASK = os.umask(0)
os.umask(UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; it becomes `path` only if the block succeeds."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        # The writer's process id in the name tells a killed run's leftovers from a live run's file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}; choose a writable output path") from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes files private; outputs should be like any other file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_temporaries(folder):
    """Delete what a killed writer left: the temporary files atomic_path names `.<name>.*.tmp`."""
    for base, _, names in os.walk(folder):
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                os.remove(os.path.join(base, name))


def writable_folder(folder):
    """Make `folder` if needed, or a UserError before any work if nothing can be written there."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise UserError(f"cannot write into {folder}: {e.strerror}; choose a writable output folder") from None


# Earlier versions named no writer in their temporary files (`.<name>.<8 random characters>.tmp`),
# so whether it still runs can't be asked; the file's age is all there is. A minute proves nothing:
# `track` writes a JSON box file only when tracking ends, so a live run's can be untouched for as long
# as its video. After a day it is taken for a killed run's: a run of those versions still tracking
# (a camera left on) is far rarer than a killed one.
UNNAMED_WRITER_AGE = 24 * 3600  # seconds


def remove_stale_temporaries(folder):
    """Delete the temporary files that atomic_path left in `folder` (not below it) for processes
    that have ended: a killed run's. Those of a run still writing there are kept (for one that names
    no writer, for UNNAMED_WRITER_AGE)."""
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        writer = re.fullmatch(r"\..+\.(\d+)\.\w+\.tmp", name)
        with contextlib.suppress(FileNotFoundError):  # its writer may have just renamed it
            if writer:
                stale = not running(int(writer[1]))
            else:
                unnamed = re.fullmatch(r"\..+\.\w{8}\.tmp", name)
                stale = unnamed and time.time() - os.path.getmtime(path) > UNNAMED_WRITER_AGE
            if stale:
                os.remove(path)


def running(pid):
    """Whether process `pid` exists; yes where that can't be asked."""
    if os.name != "posix":  # there os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)  # signal 0 only asks whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Open a temporary file for writing; it replaces `path` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_text(path, text):
    with atomic_write(path) as f:
        f.write(text)


def write_json(path, data):
    with atomic_write(path) as f:
        json.dump(data, f, indent=1)


def write_verified(path, blob):
    """`blob` (bytes) written whole, after a line with its SHA-256, for read_verified."""
    with atomic_write(path, "wb") as f:
        f.write(hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob)


def read_verified(path):
    """What write_verified wrote at `path`, or None if the file is missing or not exactly that."""
    try:
        with open(path, "rb") as f:
            digest, _, blob = f.read().partition(b"\n")
    except OSError:
        return None
    return blob if hashlib.sha256(blob).hexdigest().encode() == digest else None


def cache_dir(*parts):
    """Where siamtrack keeps what it can rebuild: $SIAMTRACK_CACHE, else the user's cache folder."""
    base = os.environ.get("SIAMTRACK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "siamtrack"
    )
    return os.path.join(base, *parts)
