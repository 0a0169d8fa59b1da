"""Write a file so that a reader (or a power cut) never sees half of it: temp file, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = False,
                 mode: int | None = None) -> None:
    """Replace `path` with `data` in one step.

    `durable=True` also fsyncs the file and its directory, for state that must survive a power cut
    (the meter's last value, spooled messages); pictures and reports do without the cost.
    `mode` sets the permissions; by default the file keeps mkstemp's private 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        # The rename must reach the disk too, or a power cut can bring back the old file.
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            # Some filesystems (FUSE, network mounts) refuse to fsync a directory: the file is written.
            with contextlib.suppress(OSError):
                os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
