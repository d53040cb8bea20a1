"""What several commands share: exit codes, judging options and model-running options.

Defined once here, with their defaults read from :class:`forgetcheck.options.CompareOptions`,
so ``compare``, ``trajectory`` (which runs ``compare`` per checkpoint) and the library
can never drift apart in names, defaults or help. :func:`compare_options` turns the
parsed values back into one :class:`~forgetcheck.options.CompareOptions`.
"""

from __future__ import annotations

import sys

import click

from forgetcheck.comparison import Comparison
from forgetcheck.options import DEFAULTS, CompareOptions

FAIL_ON = ("regressed", "inconclusive", "never")


def exit_code(comparison: Comparison, fail_on: str) -> int:
    """The documented exit code for a finished run."""
    if fail_on == "never":
        return 0
    if comparison.regressed():
        return 1
    if fail_on == "inconclusive" and comparison.inconclusive():
        return 3
    return 0


def judging_options(func=None, *, rejudge: bool = False):
    """--tolerance, --confidence and --fail-on; ``rejudge``: for a command that re-judges a saved report,
    whose thresholds default to the report's own."""
    def add(func):
        default = ", or the report's" if rejudge else ""
        func = click.option("--fail-on", type=click.Choice(FAIL_ON), default="regressed", show_default=True,
                            help="Which verdict makes the exit code non-zero.")(func)
        func = click.option("--confidence", type=float, default=None,
                            help=f"Confidence level of the intervals [default: {DEFAULTS.confidence}{default}].")(func)
        func = click.option("--tolerance", type=float, default=None,
                            help="Largest drop that still counts as held, absolute (0.02 = 2 points) "
                                 f"[default: {DEFAULTS.tolerance}{default}].")(func)
        return func
    return add(func) if func is not None else add


SUITE_HELP = "A built-in suite (core, core-quick), a suite YAML or lm-eval task YAML, or lm-eval:TASK[,TASK...]."
REPORT_FILES_HELP = "Folder for report.json, report.md, report.html, samples.jsonl, chart.png."


# A suite can come from a pull request: it reads only inside its own folder unless the user trusts it.
files_outside_suite_option = click.option(
    "--allow-files-outside-suite", "files_outside_suite", is_flag=True,
    help="Let the suite read files outside its own folder (only for a suite you trust).")

# An lm-eval task's Python (!function, process_docs) runs only when the user trusts the task.
task_code_option = click.option(
    "--allow-task-code", "task_code", is_flag=True,
    help="Let lm-eval tasks that carry Python (!function, process_docs) build their prompts through lm-eval "
         "(only for tasks you trust; needs pip install 'forgetcheck[lm-eval]').")


def running_options(func):
    """How the models are loaded and scored, and whether the result cache is used."""
    options = [
        click.option("--dtype", default=DEFAULTS.dtype, show_default=True,
                     help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16, float16."),
        click.option("--device", default=DEFAULTS.device, show_default=True, help="auto, cpu, cuda, cuda:1 ..."),
        click.option("--chat-template", type=click.Choice(["auto", "on", "off"]), default=None,
                     help="Override every probe's chat-template setting."),
        click.option("--batch-tokens", type=int, default=None, help="Token budget per batch (padded tokens)."),
        click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (loading them can run code)."),
        click.option("--trust-remote-code", is_flag=True, help="Allow models that ship their own Python code."),
        click.option("--quiet", is_flag=True, help="No progress bars or library notices."),
        click.option("--no-cache", is_flag=True,
                     help="Score every item afresh; neither read nor write the result cache."),
        click.option("--kl-samples", type=click.IntRange(min=0), default=DEFAULTS.kl_samples, show_default=True,
                     help="Sequences the base samples for label-free drift (KL on its own text); 0 turns it off."),
    ]
    for option in reversed([*options, files_outside_suite_option]):
        func = option(func)
    return func


def quiet_libraries(quiet: bool) -> None:
    """With --quiet, transformers' own loading bars and notices go too (its deprecation lines are for its
    developers, not for someone reading a forgetting report); errors still show."""
    if quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


def compare_options(*, tolerance=None, confidence=None, quiet=False, no_cache=False, **running) -> CompareOptions:
    """The parsed command-line values as one CompareOptions; an option left out keeps its default."""
    judged = {name: value for name, value in (("tolerance", tolerance), ("confidence", confidence))
              if value is not None}
    return DEFAULTS.with_overrides(**judged, **running, progress=not quiet, cache=not no_cache)


def finish(comparison: Comparison, out_dir: str, fail_on: str) -> None:
    """Write the report folder, show the table and exit with the verdict's code."""
    from forgetcheck.report.files import write_report_folder
    from forgetcheck.report.text import render_text

    paths = write_report_folder(comparison, out_dir)
    click.echo(render_text(comparison))
    click.echo(f"report: {paths['markdown']} · page: {paths['html']} · chart: {paths['chart']} · "
               f"samples: {paths['samples']}")
    sys.exit(exit_code(comparison, fail_on))
