"""``forgetcheck compare BASE CAND1 CAND2 …``: several candidates against one base, in one run.

The ``compare`` command itself lives in :mod:`forgetcheck.cli`; with one candidate
it runs exactly as it always has. With two or more it hands over here:
:func:`forgetcheck.workflows.compare.compare_many` scores them, each candidate's
full report goes to ``OUT/<label>/`` as a single run's would, and ``OUT/report.md``
(with ``OUT/candidates.json``) holds them side by side. The exit code is the worst
candidate's: 1 if any regressed, else 3 if any is inconclusive under
``--fail-on inconclusive``, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from forgetcheck.commands.options import exit_code
from forgetcheck.comparison import Comparison
from forgetcheck.errors import EXIT_HELD, EXIT_INCONCLUSIVE, EXIT_REGRESSED
from forgetcheck.options import CompareOptions

# Worst first: a regression outranks an undecided candidate.
_EXIT_ORDER = (EXIT_REGRESSED, EXIT_INCONCLUSIVE, EXIT_HELD)


def worst_exit_code(comparisons: dict[str, Comparison], fail_on: str) -> int:
    """The exit code of the worst candidate, by :func:`forgetcheck.commands.options.exit_code`."""
    codes = {exit_code(c, fail_on) for c in comparisons.values()}
    return next(code for code in _EXIT_ORDER if code in codes)


def compare_several(base: str, candidates: list[str], suite: str, options: CompareOptions, out_dir: str,
                    fail_on: str) -> None:
    """Run the comparison, write every report, show the side-by-side table and exit with the worst code."""
    from forgetcheck.models import parallel
    from forgetcheck.workflows.compare import compare_many

    comparisons = compare_many(base, candidates, suite, options,
                               warn=lambda m: click.echo(f"forgetcheck: warning: {m}", err=True))
    if not parallel.is_main():
        sys.exit(0)  # rank 0 writes the reports and gives the exit code (see the single-candidate command)
    finish_several(comparisons, out_dir, fail_on)


def finish_several(comparisons: dict[str, Comparison], out_dir: str, fail_on: str) -> None:
    """Write each candidate's report folder and the side-by-side report, show the table, exit.

    A single run's report files left at the top of OUT by an earlier run are removed:
    they would contradict the side-by-side report.md, and ``forgetcheck report OUT``
    or ``comment OUT`` would read them instead of this run.
    """
    from forgetcheck.files import write_atomic
    from forgetcheck.report.files import REPORT_FILES, write_report_folder
    from forgetcheck.report.side_by_side import (
        INDEX, candidates_index, render_side_by_side_markdown, render_side_by_side_text)

    out = Path(out_dir)
    for label, comparison in comparisons.items():
        write_report_folder(comparison, out / label)
    for name in REPORT_FILES.values():
        if name != "report.md":
            (out / name).unlink(missing_ok=True)
    # The side-by-side files last: they point at the folders, which are all in place by now.
    write_atomic(out / INDEX, candidates_index(comparisons))
    write_atomic(out / "report.md", render_side_by_side_markdown(comparisons))
    click.echo(render_side_by_side_text(comparisons))
    click.echo(f"report: {out / 'report.md'} · each candidate's full report: {out}/<candidate>/report.md")
    sys.exit(worst_exit_code(comparisons, fail_on))


def report_several(folder: str, tolerance: float | None, confidence: float | None, fail_on: str, fmt: str) -> None:
    """``forgetcheck report OUT`` for a several-candidate run: re-judged together, shown side by side."""
    import json

    from forgetcheck.analysis.verdicts import rejudge_candidates
    from forgetcheck.comparison import to_dict
    from forgetcheck.report.side_by_side import read_candidates, render_side_by_side_markdown, render_side_by_side_text

    if fmt == "html":  # the page browses one comparison's items; each candidate's folder has its own
        from forgetcheck.errors import BadInput

        raise BadInput(f"--format html: {folder} holds several candidates; give one of them, "
                       f"{folder}/<candidate>/report.json (each candidate's folder also has its report.html)")
    saved = read_candidates(folder)
    comparisons = dict(zip(saved, rejudge_candidates(list(saved.values()), tolerance, confidence)))
    if fmt == "json":
        click.echo(json.dumps({label: to_dict(c) for label, c in comparisons.items()}, indent=2, ensure_ascii=False))
    elif fmt == "md":
        click.echo(render_side_by_side_markdown(comparisons))
    else:
        click.echo(render_side_by_side_text(comparisons))
    sys.exit(worst_exit_code(comparisons, fail_on))
