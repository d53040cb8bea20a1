"""The ``forgetcheck`` command: thin click commands over the library.

Exit codes (``forgetcheck.errors``): 0 nothing regressed; 1 a capability regressed;
2 bad usage or bad input (one line, no traceback); 3 inconclusive when
``--fail-on inconclusive``; 4 the run could not finish (the machine, or a bug in
forgetcheck); 130 interrupted. Only a finished comparison ever exits 1.
"""

from __future__ import annotations

import os

# OpenMP threads that wait for work spin by default, taking the cycles another job on the same cores needs:
# two scoring jobs on 2 cores took 7.6x as long as one alone; with waiting threads asleep 1.3x, and one job
# alone was no slower (benchmarks/shared_cores.py). CI runners often share cores. This must be set before
# torch starts its thread pool (torch is imported later, lazily); a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import sys
import traceback
import warnings

import click

from forgetcheck.version import __version__
from forgetcheck.commands.options import (
    REPORT_FILES_HELP, SUITE_HELP, compare_options, exit_code, finish, judging_options, quiet_libraries,
    running_options, task_code_option)
from forgetcheck.comparison import to_dict
from forgetcheck.files import check_out_dir
from forgetcheck.errors import EXIT_FAILED, EXIT_INTERRUPTED, ForgetcheckError
from forgetcheck.options import DEFAULTS


class Group(click.Group):
    """Turns every way a command can stop early into one documented exit code.

    A ForgetcheckError is the user's to fix: one line, exit 2. The machine failing
    (disk full, a folder that cannot be written) is one line and exit 4; any other
    exception is a bug in forgetcheck: its traceback, a line saying so, exit 4.
    Ctrl-C exits 130 and says that finished work is kept in the result cache.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ForgetcheckError as exc:
            click.echo(f"forgetcheck: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("\nforgetcheck: interrupted; scores finished so far are kept in the result cache, "
                       "so the same command resumes where this one stopped", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            click.echo(f"forgetcheck: error: the run could not finish: {exc.strerror or exc}{where}; "
                       "free the space or fix the permissions and run it again", err=True)
            sys.exit(EXIT_FAILED)
        except Exception:  # noqa: BLE001  (the last line of defence: a bug must never read as "regressed")
            traceback.print_exc()
            click.echo("forgetcheck: internal error: this is a bug in forgetcheck; please report it with the "
                       "traceback above (exit code 4)", err=True)
            sys.exit(EXIT_FAILED)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="forgetcheck")
def main() -> None:
    """What did this fine-tune make the model forget, and is the loss real?"""
    # Library deprecation notices (transformers, peft) are for their developers,
    # not for someone reading a forgetting report.
    warnings.filterwarnings("ignore", category=FutureWarning)


@main.command()
@click.argument("base")
@click.argument("candidates", metavar="CANDIDATE...", nargs=-1, required=True)
@click.option("--suite", default="core", show_default=True, help=SUITE_HELP)
@click.option("--out", "out_dir", default="forgetcheck-report", show_default=True, type=click.Path(file_okay=False),
              help=REPORT_FILES_HELP[:-1] + " (with several candidates: one folder per candidate, and report.md "
                   "side by side).")
@judging_options
@running_options
@click.option("--device-map", type=click.Choice(["auto"]), default=None,
              help="Spread a model too large for one GPU over all GPUs (CUDA only).")
@click.option("--recovery-shots", type=click.IntRange(min=0), default=DEFAULTS.recovery_shots, show_default=True,
              help="Examples given when forgotten answers are asked again (format or knowledge?); 0 turns it off.")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="A text file of paragraphs: perplexity drift on your own text, as one more capability.")
@task_code_option
@click.option("--audit", is_flag=True, help="Run the probe audit against the base first where the cache has "
              "none (about one more pass of the suite); a cached audit is always read.")
def compare(base, candidates, suite, out_dir, tolerance, confidence, fail_on, dtype, device, chat_template,
            batch_tokens, allow_pickle, trust_remote_code, quiet, no_cache, kl_samples, files_outside_suite,
            device_map, recovery_shots, reference, task_code, audit):
    """Compare CANDIDATE (full model or PEFT adapter) with BASE on a probe suite.

    BASE and CANDIDATE are local folders, .gguf files, or Hub ids like org/name@revision.
    Several candidates are compared in one run: the base is scored once, each
    candidate's report goes to OUT/<candidate>/, OUT/report.md shows them side by
    side, and the exit code is the worst candidate's.
    """
    from forgetcheck.workflows.compare import compare as run_compare

    check_out_dir(out_dir)
    options = compare_options(
        tolerance=tolerance, confidence=confidence, quiet=quiet, no_cache=no_cache, dtype=dtype, device=device,
        chat_template=chat_template, batch_tokens=batch_tokens, allow_pickle=allow_pickle,
        trust_remote_code=trust_remote_code, device_map=device_map, kl_samples=kl_samples,
        recovery_shots=recovery_shots, reference=reference, files_outside_suite=files_outside_suite,
        task_code=task_code, audit=audit)
    quiet_libraries(quiet)
    if len(candidates) > 1:
        from forgetcheck.commands.compare import compare_several

        return compare_several(base, list(candidates), suite, options, out_dir, fail_on)  # exits: the worst's code
    comparison = run_compare(base, candidates[0], suite, options, warn=lambda m: click.echo(f"forgetcheck: warning: {m}", err=True))
    from forgetcheck.models import parallel

    if not parallel.is_main():
        # Under torchrun every process holds the result; rank 0 reports it and gives the exit code
        # (a non-zero exit here would make the launcher stop rank 0 before it writes the report).
        sys.exit(0)
    finish(comparison, out_dir, fail_on)


@main.command()
@click.argument("report_json", type=click.Path(dir_okay=True))
@judging_options(rejudge=True)
@click.option("--format", "fmt", type=click.Choice(["md", "json", "text", "html"]), default="text", show_default=True,
              help="text: the table; md: report.md; json: report.json; html: the report.html page.")
def report(report_json, tolerance, confidence, fail_on, fmt):
    """Re-render (and re-judge with other thresholds) a saved report.json; no model is loaded."""
    from forgetcheck.analysis.verdicts import rejudge
    from forgetcheck.report.files import read_report
    from forgetcheck.report.side_by_side import is_several

    if is_several(report_json):  # a several-candidate run's folder: judged again together, shown side by side
        from forgetcheck.commands.compare import report_several

        return report_several(report_json, tolerance, confidence, fail_on, fmt)
    comparison = rejudge(read_report(report_json), tolerance, confidence)
    if fmt == "json":
        click.echo(json.dumps(to_dict(comparison), indent=2, ensure_ascii=False))
    elif fmt == "md":
        from forgetcheck.report.markdown import render_markdown

        click.echo(render_markdown(comparison))
    elif fmt == "html":  # the report.html page, re-judged: `forgetcheck report r.json --format html > page.html`
        from forgetcheck.report.chart import render_chart
        from forgetcheck.report.html import render_html

        click.echo(render_html(comparison, chart=render_chart(comparison)), nl=False)
    else:
        from forgetcheck.report.text import render_text

        click.echo(render_text(comparison))
    sys.exit(exit_code(comparison, fail_on))


@main.command()
@click.option("--out", "out_dir", default="forgetcheck-demo", show_default=True, type=click.Path(file_okay=False),
              help=REPORT_FILES_HELP)
@click.option("--quiet", is_flag=True, help="No progress bars or library notices.")
def demo(out_dir, quiet):
    """Compare SmolLM2-135M-Instruct with a LoRA adapter that forgot things; offline."""
    from forgetcheck.demo.run import demo_models

    check_out_dir(out_dir)
    quiet_libraries(quiet)
    base, adapter = demo_models(echo=lambda m: click.echo(m, err=True))
    from forgetcheck.workflows.compare import compare as run_compare

    click.echo(f"forgetcheck demo: base {base}\n                  candidate {adapter}", err=True)
    # A quarter of compare's default of drift samples: the demo's adapter drifts far (KL ~1.5 nat/token, its
    # interval well clear of 0 with 16 texts), and sampling is a fixed cost that weighs on a first run.
    comparison = run_compare(str(base), str(adapter), "core-quick", progress=not quiet, kl_samples=16,
                             warn=lambda m: click.echo(f"forgetcheck: warning: {m}", err=True))
    finish(comparison, out_dir, "never")


# Each further command lives in its own module under forgetcheck/commands.
from forgetcheck.commands.cache import cache as cache_command  # noqa: E402
from forgetcheck.commands.drift import drift_command  # noqa: E402
from forgetcheck.commands.logs import compare_logs_command  # noqa: E402
from forgetcheck.commands.overlap import overlap_command  # noqa: E402
from forgetcheck.commands.probes import probes as probes_command  # noqa: E402
from forgetcheck.commands.replay import replay_command  # noqa: E402
from forgetcheck.commands.share import card, comment, serve_webhook  # noqa: E402
from forgetcheck.commands.trajectory import trajectory_command  # noqa: E402

for command in (probes_command, cache_command, overlap_command, drift_command, replay_command, comment, card,
                serve_webhook, trajectory_command, compare_logs_command):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
