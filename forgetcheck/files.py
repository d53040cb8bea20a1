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


def check_out_dir(out_dir: str | os.PathLike, option: str = "--out") -> Path:
    """Refuse an output folder that cannot be written, before any work is done.

    A run that scores for minutes and then cannot write its report loses that
    work's summary, so the folder is checked, and made, first: it must be a folder
    or not yet exist, and it must be possible to create it.
    """
    from forgetcheck.errors import BadInput

    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {out_dir}: that is a file, not a folder; give a folder for the report")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise BadInput(f"{option} {out_dir}: {probe} is a file, so no folder can be made under it; "
                       "choose another folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {out_dir}: {probe} is not writable; choose a folder you can write to")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{option} {out_dir}: cannot be created ({exc.strerror}); choose a folder you can write to") \
            from None
    return path
