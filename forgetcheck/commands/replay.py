"""``forgetcheck replay BASE --out replay.jsonl``: the base's own samples, to mix into fine-tuning."""

from __future__ import annotations

import click

from forgetcheck.commands.options import files_outside_suite_option, task_code_option
from forgetcheck.errors import BadInput


@click.command("replay")
@click.argument("base")
@click.option("--out", "out_file", default="replay.jsonl", show_default=True, type=click.Path(dir_okay=False),
              help="The JSONL file to write.")
@click.option("--samples", type=click.IntRange(min=1), default=256, show_default=True, help="Rows to sample.")
@click.option("--suite", default="core", show_default=True, help="Whose questions prompt the samples.")
@click.option("--report", "report_json", type=click.Path(), default=None,
              help="A report.json: prompt with the questions of the capabilities it marks regressed.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed: the same seed gives the same rows.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=128, show_default=True,
              help="Longest answer sampled per row, in tokens.")
@click.option("--dtype", default="auto", show_default=True, help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16, float16.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (loading them can run code).")
@click.option("--trust-remote-code", is_flag=True, help="Allow models that ship their own Python code.")
@files_outside_suite_option
@task_code_option
def replay_command(base, out_file, samples, suite, report_json, seed, max_new_tokens, dtype, device, allow_pickle,
                   trust_remote_code, files_outside_suite, task_code):
    """Sample replay data from BASE: mixed into fine-tuning, it keeps what the base could do.

    Writes chat `messages` rows when the model has a chat template, `text` rows
    otherwise; `datasets.load_dataset("json", data_files=OUT)` reads either.
    """
    from forgetcheck.models.specs import resolve
    from forgetcheck.models.weights import open_model
    from forgetcheck.report.files import read_report
    from forgetcheck.suites.suite import load_suite
    from forgetcheck.workflows.replay import SUGGESTED_SHARE, focus, replay_rows, write_rows

    suite_obj = load_suite(suite, files_anywhere=files_outside_suite, task_code=task_code)
    if report_json:
        suite_obj, chosen = focus(suite_obj, read_report(report_json).regressed())
        click.echo(f"forgetcheck: {chosen}", err=True)
    spec = resolve(base, allow_pickle=allow_pickle)
    if spec.adapter:
        raise BadInput(f"{base!r} is a PEFT adapter; replay samples the BASE model the fine-tune started from")
    scorer = open_model(spec, dtype=dtype, device=device, allow_pickle=allow_pickle,
                        trust_remote_code=trust_remote_code).scorer
    rows = replay_rows(scorer, suite_obj, samples, seed=seed, max_new_tokens=max_new_tokens)
    write_rows(rows, out_file)
    kind = "chat messages" if scorer.has_chat_template else "plain text"
    click.echo(f"wrote {len(rows)} replay rows ({kind}) to {out_file}")
    click.echo(f"mix them in at about {SUGGESTED_SHARE:.0%} of your fine-tuning rows (for 1,000 task rows, "
               f"{round(1000 * SUGGESTED_SHARE / (1 - SUGGESTED_SHARE))} replay rows), then check with forgetcheck "
               "compare; raise the share if something still regresses")
