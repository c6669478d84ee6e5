"""Files appear whole or not at all: write to a temporary name, rename when complete."""
import contextlib
import json
import os
import tempfile

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
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
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
