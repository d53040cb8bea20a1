"""``forgetcheck overlap A.json B.json``: did two runs forget the same items?"""

from __future__ import annotations

import dataclasses
import json

import click

from forgetcheck.analysis.overlap import overlap, summary
from forgetcheck.report.files import read_report


@click.command("overlap")
@click.argument("report_a", type=click.Path(dir_okay=True))
@click.argument("report_b", type=click.Path(dir_okay=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table to read; json: for scripts.")
def overlap_command(report_a, report_b, fmt):
    """Compare what two comparisons of the same base forgot (e.g. two training seeds).

    Per capability: the Jaccard overlap of forgotten items, the overlap expected if
    the runs were independent with a p-value, and the rank correlation of per-item
    drops. Takes report.json files or the report folders holding them.
    """
    a, b = read_report(report_a), read_report(report_b)
    results = overlap(a, b, sources=(report_a, report_b))
    if fmt == "json":
        click.echo(json.dumps({"capabilities": [dataclasses.asdict(r) for r in results],
                               "summary": summary(results)}, indent=2))
        return
    click.echo(render(results))


def render(results) -> str:
    header = ("capability", "known", "forgot A", "forgot B", "both", "Jaccard", "if independent", "p", "rank corr")
    rows = [header]
    for r in results:
        rows.append((
            r.name, _int(r.known), _int(r.forgotten_a), _int(r.forgotten_b), _int(r.both), _num(r.jaccard),
            _num(r.jaccard_expected), _p(r.p_value), _num(r.rank_correlation)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    return "\n".join(lines) + "\n\n" + summary(results)


def _int(value):
    return "—" if value is None else str(value)


def _num(value):
    return "—" if value is None else f"{value:.3f}"


def _p(value):
    return "—" if value is None else ("<0.001" if value < 0.001 else f"{value:.3f}")
