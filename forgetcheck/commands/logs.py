"""``forgetcheck compare-logs``: a report from two lm-eval runs' ``--log_samples`` files, no model loaded."""

from __future__ import annotations

import click

from forgetcheck.commands.options import REPORT_FILES_HELP, finish, judging_options
from forgetcheck.options import DEFAULTS


@click.command("compare-logs")
@click.argument("base_samples")
@click.argument("candidate_samples")
@click.option("--out", "out_dir", default="forgetcheck-report", show_default=True, type=click.Path(file_okay=False),
              help=REPORT_FILES_HELP)
@judging_options
def compare_logs_command(base_samples, candidate_samples, out_dir, tolerance, confidence, fail_on):
    """Compare two lm-eval runs from the per-sample files `lm_eval --log_samples` wrote.

    BASE_SAMPLES and CANDIDATE_SAMPLES are samples_TASK_*.jsonl files or the folders holding
    them. Documents are paired by task, filter and doc_id; runs that asked different
    documents are refused.
    """
    from forgetcheck.workflows.from_logs import compare_logs

    comparison = compare_logs(base_samples, candidate_samples, tolerance=DEFAULTS.tolerance if tolerance is None else tolerance,
                              confidence=DEFAULTS.confidence if confidence is None else confidence)
    finish(comparison, out_dir, fail_on)
