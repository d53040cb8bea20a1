"""Which public dataset a probe's items came from, and reading it from a local copy.

A report and a model card should name the real benchmark a capability was measured
on: the Hub dataset id, its config and split, the pinned revision and, for an
lm-eval task, the task's name (:func:`dataset_info`, carried as ``probe.info["dataset"]``
into ``CapabilityResult.dataset``).

Offline machines (CI runners without Hub access, air-gapped clusters, the tests)
can keep copies: with ``FORGETCHECK_DATASETS=/folder``, a Hub dataset ``owner/name``
with config ``cfg`` is read from ``/folder/owner/name/cfg/SPLIT.jsonl`` (``default``
when there is no config), one JSON object per row with the dataset's own columns.
A copy is the user's word, not the Hub's, so a probe read from one keeps its id,
config and split but no ``revision``: forgetcheck cannot vouch for which commit it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from forgetcheck.suites.paths import is_url

COPIES_VARIABLE = "FORGETCHECK_DATASETS"
# Names `datasets.load_dataset` reads as its own loaders, not as Hub ids.
LOADERS = {"json", "csv", "parquet", "text", "arrow", "pandas", "webdataset", "imagefolder", "audiofolder",
           "videofolder", "xml", "sql"}


def is_hub_id(path: Any, base_dir: Path) -> bool:
    """Whether a dataset ``path`` names a Hub dataset (not a loader, a URL or a local folder)."""
    text = str(path or "")
    return bool(text) and text not in LOADERS and not is_url(text) and not (base_dir / text).exists() \
        and not Path(text).is_absolute() and not text.startswith(".")


def local_copy(path: Any, name: Any, base_dir: Path) -> dict[str, str] | None:
    """The JSONL files (split -> file) of a local copy of Hub dataset ``path``/``name``, if one is kept."""
    root = os.environ.get(COPIES_VARIABLE)
    if not root or not is_hub_id(path, base_dir):
        return None
    root_folder = Path(root).expanduser().resolve()
    folder = (root_folder / str(path) / str(name or "default")).resolve()
    if not folder.is_relative_to(root_folder):  # the id comes from a suite, maybe a pull request's: no "../"
        return None
    files = {file.stem: str(file.resolve()) for file in sorted(folder.glob("*.jsonl"))
             if file.resolve().is_relative_to(root_folder)}
    return files or None


def dataset_info(dataset: dict[str, Any], base_dir: Path, task: str | None = None) -> dict[str, str] | None:
    """``probe.info["dataset"]`` for items from a Hub dataset: id, config, split, revision, task (where known).

    >>> dataset_info({"path": "allenai/ai2_arc", "name": "ARC-Easy", "split": "test"}, Path("."), "arc_easy")
    {'id': 'allenai/ai2_arc', 'config': 'ARC-Easy', 'split': 'test', 'task': 'arc_easy'}
    >>> dataset_info({"path": "json", "data_files": "rows.jsonl"}, Path(".")) is None
    True
    """
    path = dataset.get("path")
    if not is_hub_id(path, base_dir):
        return None
    copied = local_copy(path, dataset.get("name"), base_dir) is not None
    info = {"id": str(path), "config": dataset.get("name"), "split": dataset.get("split"),
            "revision": None if copied else dataset.get("revision"), "task": task}
    return {key: str(value) for key, value in info.items() if value is not None}
