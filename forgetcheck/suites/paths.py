"""Where a suite may read files: inside its own folder, unless the user says otherwise.

A suite can come from a pull request, and ``probes validate``, ``probes show`` and the
report echo what a suite reads. A suite whose ``file:``, ``data_files``, local
dataset ``path``, ``lm_eval_task`` or ``include:`` could name ``../../etc/passwd`` or
``/home/runner/.ssh/id_rsa`` would leak that file. So while a suite loads, every
local path it names must resolve (symbolic links followed) inside the suite's folder,
or inside the installed lm-eval package's task folder (code the user installed, which
shipped task YAMLs include from). ``--allow-files-outside-suite`` lifts the rule for
a suite the user trusts. URLs and Hub ids are not local files and are not affected.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from forgetcheck.errors import BadInput

# The folders the suite being loaded may read, or None while nothing confines it. A context
# variable, so that concurrent loads (the webhook's threads) each keep their own.
_ROOTS: ContextVar[tuple[Path, ...] | None] = ContextVar("forgetcheck_suite_roots", default=None)
FLAG = "--allow-files-outside-suite"


@contextmanager
def reading_inside(folder: Path, *, anywhere: bool = False):
    """Confine the suite loaded inside the block to ``folder`` (and lm-eval's task YAMLs)."""
    roots = None if anywhere else (Path(folder).resolve(), *_lm_eval_tasks())
    token = _ROOTS.set(roots)
    try:
        yield
    finally:
        _ROOTS.reset(token)


def inside_suite(path: Path, where: str) -> Path:
    """``path`` itself if the suite may read it; otherwise a one-line refusal naming ``where`` and the flag."""
    roots = _ROOTS.get()
    if roots is None:
        return path
    resolved = Path(path).resolve()
    if any(resolved == root or resolved.is_relative_to(root) for root in roots):
        return path
    raise BadInput(f"{where}: {path} is outside the suite's folder ({roots[0]}); a suite reads only files inside "
                   f"its own folder. Move the file there, or pass {FLAG} if you trust this suite")


def is_url(name: str) -> bool:
    """True for remote data (``https://``, ``hf://`` ...), which is no local file."""
    return "://" in name


def _lm_eval_tasks() -> tuple[Path, ...]:
    """The installed lm-eval's task folder, found without importing lm-eval (it imports torch)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple((Path(location) / "tasks").resolve() for location in spec.submodule_search_locations)
