"""Atomic file writes: a reader sees the old file or the new one, never half
of one.

`write_atomic(path, data)` writes bytes or text; `atomic_path(path)` is for
writers that need a file name (`model.save`, `save_weights`, `np.save`,
`tarfile.open`). Both write a temporary file in the target's folder (so the
rename stays within one filesystem), flush it to disk, give it the mode a
plain `open(path, "w")` would (`0o666 & ~umask`, where `tempfile.mkstemp`
alone gives 0600), and `os.replace` it over the target. On any error the
temporary file is removed and the target is left as it was.

This module imports neither TensorFlow nor Keras.
"""

import contextlib
import os
import tempfile

TEMP_PREFIX = ".tmp-"


def current_umask():
    """The process umask, read without changing it where the OS allows
    (Linux `/proc/self/status`); elsewhere by setting and restoring it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory):
    # The rename itself is durable only once the folder is synced (POSIX).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path beside `path`; on a clean exit the file the
    caller wrote there replaces `path` atomically.

    Args:
        path: the file to write (its folder is created if needed).
        suffix: the temporary file's suffix (default: `path`'s own, e.g.
            `.keras` or `.weights.h5`, which Keras insists on).

    Example:

    ```python
    with atomic_path("run/vqvae.keras") as tmp:
        model.save(tmp)
    ```
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if suffix is None:
        base = os.path.basename(path)
        suffix = base[base.index("."):] if "." in base.lstrip(".") else ""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def write_atomic(path, data):
    """Writes `data` (bytes, or str as UTF-8) to `path` atomically.

    Args:
        path: str or path-like; its folder is created if needed.
        data: bytes-like or str.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path, suffix="") as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def read_npy_header(stream):
    """`(shape, dtype)` of the `.npy` array whose bytes `stream` (a file
    object at its start, or an `.npz` member) holds, from its header alone:
    the data is neither read nor decompressed (a few-KB compressed file may
    claim gigabytes). Raises ValueError when it is not a `.npy` header."""
    import numpy as np

    major, _ = np.lib.format.read_magic(stream)
    read = (np.lib.format.read_array_header_1_0 if major == 1
            else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read(stream)
    return tuple(int(n) for n in shape), dtype
