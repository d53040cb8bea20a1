"""Writing files so that a reader, or a run killed half-way, never sees half of one.

Every file forgetcheck writes (reports, charts, cards, replay data) goes through
:func:`write_atomic`: a temporary file in the same folder, flushed to disk, then
moved into place with ``os.replace``, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# mkstemp creates files readable by the owner only; report files should get the
# permissions any other file the user writes gets. Read once, at import, because
# reading the umask means briefly changing it, which is not safe while threads run.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` so readers see all of it or none."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, 0o666 & ~_UMASK)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
