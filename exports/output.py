"""Atomic output: every renderer writes a temporary file and only a finished file reaches its target."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

Output = str | os.PathLike[str] | BinaryIO
PART_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_output(out: Output) -> Iterator[BinaryIO]:
    """A binary file to write into; on success it becomes `out`, on any error nothing reaches `out`.

    For a path, the data goes to a hidden `.<name>.<random>.part` file in the same folder, is fsynced,
    then `os.replace`d onto the path (atomic on POSIX). For an open binary stream, the data is
    spooled to a temporary file and copied into the stream only once the render has succeeded.
    """
    if isinstance(out, str | os.PathLike):
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    else:
        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            shutil.copyfileobj(spool, out, 1 << 20)
