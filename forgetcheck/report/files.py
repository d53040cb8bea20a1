"""The report folder: write every output of a run to disk, and read a report back.

A finished run leaves ``report.json`` (the whole Comparison, re-renderable later),
``report.md`` (for a pull request), ``report.html`` (a self-contained page to browse
the items in, :mod:`forgetcheck.report.html`), ``samples.jsonl`` (one row per probe item, for
digging in with jq or pandas) and ``chart.png``. Each file is written to a temporary
file in the same folder and moved into place with ``os.replace``, which is atomic on
one filesystem: a run killed half-way leaves the old file or the new one, never a
truncated one that a later ``forgetcheck report`` would choke on. ``read_report``
turns every way a report file can be unusable into a one-line :class:`BadInput`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from forgetcheck.comparison import Comparison, NotANumber, from_dict, to_dict
from forgetcheck.errors import BadInput
from forgetcheck.files import write_atomic
from forgetcheck.report.html import render_html
from forgetcheck.report.markdown import render_markdown

def samples_jsonl(comparison: Comparison) -> str:
    """One JSON object per line, one line per probe item scored on both sides."""
    lines = [
        json.dumps(
            {
                "capability": item.capability,
                "subcategory": item.subcategory,
                "item_id": item.item_id,
                "base_score": item.base_score,
                "candidate_score": item.candidate_score,
                "flip": item.flip,
                "prompt": item.prompt,
                "expected": item.expected,
                "base_answer": item.base_answer,
                "candidate_answer": item.candidate_answer,
            },
            ensure_ascii=False,
        )
        for item in comparison.items
    ]
    return "".join(line + "\n" for line in lines)


REPORT_FILES = {"json": "report.json", "markdown": "report.md", "samples": "samples.jsonl", "chart": "chart.png",
                "html": "report.html"}


def write_report_folder(comparison: Comparison, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write report.json, report.md, samples.jsonl, chart.png and report.html into ``out_dir``, all or none.

    Everything is rendered first, then written to a hidden staging folder inside ``out_dir``,
    and only when every file is on disk are they moved into place (renames within one
    filesystem, which cannot run out of space). A failure while rendering or writing
    (a full disk, an interrupt) leaves the previous report as it was.
    Returns the paths written, keyed ``json``, ``markdown``, ``samples``, ``chart``, ``html``.
    """
    # Imported here because matplotlib takes a while to load and reading or
    # re-rendering a report never needs it.
    from forgetcheck.report.chart import render_chart

    out_dir = Path(out_dir)
    chart = render_chart(comparison)
    contents = {
        "json": json.dumps(to_dict(comparison), indent=2, ensure_ascii=False) + "\n",
        "markdown": render_markdown(comparison),
        "samples": samples_jsonl(comparison),
        "chart": chart,
        "html": render_html(comparison, chart=chart),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".staging-"))
    try:
        for key, data in contents.items():
            write_atomic(staging / REPORT_FILES[key], data)
        for key in contents:
            os.replace(staging / REPORT_FILES[key], out_dir / REPORT_FILES[key])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {key: out_dir / name for key, name in REPORT_FILES.items()}


# A real report holds a few MB (items with their prompts and answers); this is far past any.
MAX_REPORT_BYTES = 256 * 2**20


def read_report(path: str | os.PathLike) -> Comparison:
    """Load a ``report.json`` (or the folder holding one) written by a run.

    The file is untrusted (a pull request's artifact may hand it over): too big,
    not UTF-8, not JSON, nested too deeply, or with a field of the wrong type or range
    (:func:`forgetcheck.comparison.from_dict`), it is one :class:`BadInput` line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise BadInput(f"{path}: {size / 2**20:,.0f} MB is too big for a forgetcheck report "
                           f"(at most {MAX_REPORT_BYTES // 2**20} MB)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"{path}: no such file; pass the report.json a `forgetcheck compare` run wrote"
        ) from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: not a forgetcheck report (not UTF-8 text at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text, parse_constant=NotANumber)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "was the run interrupted, or the file edited by hand?"
        ) from None
    except RecursionError:
        raise BadInput(f"{path}: not a forgetcheck report (JSON nested too deeply)") from None
    except ValueError:  # an integer of thousands of digits: Python refuses to convert it
        raise BadInput(f"{path}: not a forgetcheck report (holds an integer too long to read)") from None
    return from_dict(data, source=str(path))
