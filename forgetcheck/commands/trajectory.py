"""``forgetcheck trajectory BASE CKPT...``: when, during training, did forgetting start?"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from forgetcheck.commands.options import (
    SUITE_HELP, compare_options, exit_code, judging_options, quiet_libraries, running_options,
    task_code_option)


@click.command("trajectory")
@click.argument("base")
@click.argument("checkpoints", nargs=-1, required=True, metavar="CKPT...")
@click.option("--suite", default="core", show_default=True, help=SUITE_HELP)
@click.option("--out", "out_dir", default="forgetcheck-trajectory", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for trajectory.json, trajectory.md, trajectory.png and checkpoints/<step>/ reports.")
@click.option("--learned", default=None, metavar="PROBE",
              help="The skill the fine-tune teaches: a capability of the suite, or a probe/suite YAML; its gain is "
                   "shown against the forgetting.")
@judging_options
@running_options
@task_code_option
def trajectory_command(base, checkpoints, suite, out_dir, learned, tolerance, confidence, fail_on, dtype, device,
                       chat_template, batch_tokens, allow_pickle, trust_remote_code, quiet, no_cache, kl_samples,
                       files_outside_suite, task_code):
    """Score every checkpoint of a run against BASE: when did each capability start to be forgotten?

    CKPT: checkpoint folders (adapters or full models, anything compare takes), or one
    folder holding checkpoint-* subfolders. The base is scored once; each checkpoint's
    full report is kept under OUT/checkpoints/<step>/. The exit code judges the last
    checkpoint, as compare would.
    """
    from forgetcheck.models import parallel
    from forgetcheck.results.store import ResultCache
    from forgetcheck.files import check_out_dir, write_atomic
    from forgetcheck.report.files import write_report_folder
    from forgetcheck.report.text import outcome_line
    from forgetcheck.report.trajectory import render_markdown, render_text, write_plot
    from forgetcheck.suites.suite import load_suite
    from forgetcheck.workflows.trajectory import find_checkpoints, forgetting_only, score_checkpoints, summarise, with_learned

    check_out_dir(out_dir)
    found = find_checkpoints(list(checkpoints))
    suite_obj, learned_names = with_learned(load_suite(suite, files_anywhere=files_outside_suite, task_code=task_code), learned,
                                            files_anywhere=files_outside_suite)
    options = compare_options(tolerance=tolerance, confidence=confidence, quiet=quiet, dtype=dtype, device=device,
                              chat_template=chat_template, batch_tokens=batch_tokens, allow_pickle=allow_pickle,
                              trust_remote_code=trust_remote_code, kl_samples=kl_samples,
                              files_outside_suite=files_outside_suite, task_code=task_code)
    quiet_libraries(quiet)
    out = Path(out_dir)
    warned: set[str] = set()

    def warn(message: str) -> None:
        if message not in warned:  # the same warning would otherwise repeat for every checkpoint
            warned.add(message)
            click.echo(f"forgetcheck: warning: {message}", err=True)

    def save(checkpoint, comparison) -> None:
        if parallel.is_main():
            write_report_folder(comparison, out / "checkpoints" / str(checkpoint.step))

    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    if no_cache:
        # Nothing is read from or left in the user's cache, but the base is still scored once: a private cache
        # lives for this run only.
        with tempfile.TemporaryDirectory(prefix="forgetcheck-trajectory-") as private:
            comparisons = score_checkpoints(base, found, suite_obj, options.with_overrides(
                cache=ResultCache(private, warn=warn)), echo=echo, each=save, warn=warn)
    else:
        comparisons = score_checkpoints(base, found, suite_obj, options, echo=echo, each=save, warn=warn)
    if not parallel.is_main():
        sys.exit(0)
    settings = {"suite": suite_obj.name, "suite_source": suite_obj.source, "learned": learned,
                "tolerance": options.tolerance, "confidence": options.confidence, "dtype": comparisons[0].settings.dtype,
                "device": comparisons[0].settings.device, "kl_samples": kl_samples,
                "cache": "private, deleted after the run" if no_cache else "shared result cache"}
    data = summarise(found, comparisons, learned_names, settings)
    write_atomic(out / "trajectory.json", json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    write_atomic(out / "trajectory.md", render_markdown(data))
    write_plot(data, out / "trajectory.png")
    last = forgetting_only(comparisons[-1], learned_names)
    click.echo(render_text(data))
    click.echo(f"last checkpoint (step {found[-1].step}): {outcome_line(last)}")
    click.echo(f"report: {out / 'trajectory.md'} · plot: {out / 'trajectory.png'} · data: {out / 'trajectory.json'} "
               f"· per checkpoint: {out / 'checkpoints'}/<step>/")
    sys.exit(exit_code(last, fail_on))
