"""``forgetcheck probes list|show|validate|audit``: see what a suite asks, and check a suite before a run.

``show`` renders prompts with the same functions the scorer uses
(:func:`forgetcheck.suites.asking.choice_requests`, :func:`~forgetcheck.suites.asking.render_prompt`),
so what it prints is what the model is asked. ``validate`` reads a suite through
the same code as ``compare`` but notes every problem instead of stopping at the first.
``audit`` sets each capability's knowledge-free floors beside a model's score
(:mod:`forgetcheck.workflows.audit`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import click

from forgetcheck.commands.options import files_outside_suite_option, task_code_option
from forgetcheck.errors import BadInput
from forgetcheck.options import DEFAULTS
from forgetcheck.suites.suite import Probe, Suite, builtin_suites, load_suite, validate_suite


@click.group()
def probes() -> None:
    """List, show, validate and audit probe suites (built-in or your own)."""


@probes.command("list")
@click.argument("suites", nargs=-1)
@files_outside_suite_option
@task_code_option
def list_command(suites, files_outside_suite, task_code) -> None:
    """Each suite's probes: kind, item count, metric and sub-categories.

    SUITES are built-in suite names or suite YAML paths; none lists the built-in suites.
    """
    for name in suites or builtin_suites():
        try:
            suite = load_suite(name, files_anywhere=files_outside_suite, task_code=task_code)
        except BadInput as exc:
            if suites:
                raise
            # A built-in suite of Hub datasets (public) cannot load offline; the others still list.
            click.echo(f"{name}: not loaded ({exc})")
            continue
        click.echo(f"{suite.name} ({suite.source}): {len(suite.probes)} probes, "
                   f"{sum(len(p.items) for p in suite.probes)} items")
        width = max(len(p.name) for p in suite.probes)
        for probe in suite.probes:
            subcategories = Counter(item.subcategory for item in probe.items if item.subcategory)
            parts = ", ".join(f"{sub} {count}" for sub, count in sorted(subcategories.items()))
            click.echo(f"  {probe.name:<{width}}  {probe.kind:<10}  {len(probe.items):>5} items  "
                       f"{probe.metric:<16}  {parts or '-'}")


@probes.command()
@click.argument("name")
@click.option("--model", "model_spec", default=None,
              help="Render with this model's tokenizer and chat template (a folder, .gguf or Hub id).")
@click.option("-n", "--items", "n_items", type=int, default=2, show_default=True, help="Items to show per probe.")
@click.option("--trust-remote-code", is_flag=True, help="Allow a tokenizer that ships its own Python code.")
@files_outside_suite_option
@task_code_option
def show(name, model_spec, n_items, trust_remote_code, files_outside_suite, task_code) -> None:
    """A few prompts of a suite (NAME), or of one probe (SUITE:PROBE), exactly as the model sees them."""
    suite, chosen = _suite_and_probes(name, files_outside_suite, task_code)
    scorer = _render_only_scorer(model_spec, trust_remote_code) if model_spec else None
    for probe in chosen:
        click.echo(f"{suite.name}:{probe.name} · {probe.kind} · {len(probe.items)} items · metric {probe.metric} · "
                   f"chat_template {probe.chat_template} · from {probe.source}")
        for item in probe.items[:n_items]:
            _show_item(probe, item, scorer)
        click.echo("")


@probes.command()
@click.argument("path")
@files_outside_suite_option
@task_code_option
def validate(path, files_outside_suite, task_code) -> None:
    """Check a suite YAML (or lm-eval task YAML) and its items; print every problem with file:line.

    Exit code 0 when the suite is sound, 2 when it has problems.
    """
    suite, problems = validate_suite(path, files_anywhere=files_outside_suite, task_code=task_code)
    for problem in problems:
        click.echo(_printable(problem))
    if problems:
        click.echo(f"forgetcheck: {len(problems)} problem{'s' * (len(problems) != 1)} in {path}", err=True)
        sys.exit(2)
    counts = ", ".join(f"{p.name} {len(p.items)}" for p in suite.probes)
    click.echo(f"{suite.source}: ok · {len(suite.probes)} probes, {sum(len(p.items) for p in suite.probes)} items "
               f"({counts})")


@probes.command()
@click.argument("suite", default="core")
@click.option("--model", "model_spec", required=True,
              help="The model whose score is set against the floors (a folder, .gguf or Hub id); "
                   "the random-weights floor is built from its config and tokenizer.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for audit.json and audit.md.")
@click.option("--capability", "capabilities", multiple=True,
              help="Audit only this probe of the suite; repeat for more.")
@click.option("--tolerance", type=float, default=DEFAULTS.tolerance, show_default=True,
              help="The tolerance compare will use: a margin must exceed it to carry a verdict.")
@click.option("--confidence", type=float, default=DEFAULTS.confidence, show_default=True,
              help="Confidence level of the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random-weights model.")
@click.option("--dtype", default="auto", show_default=True, help="auto (bf16 on GPU, float32 on CPU), float32, ...")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--batch-tokens", type=int, default=None, help="Token budget per batch (padded tokens).")
@click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (loading them can run code).")
@click.option("--trust-remote-code", is_flag=True, help="Allow models that ship their own Python code.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@files_outside_suite_option
@task_code_option
def audit(suite, model_spec, out_dir, capabilities, tolerance, confidence, seed, dtype, device, batch_tokens,
          allow_pickle, trust_remote_code, quiet, files_outside_suite, task_code) -> None:
    """What each capability of SUITE (default core) scores with no knowledge of the skill, next to --model's score.

    Flags a capability whose floor is above chance, or whose margin is too small to carry a verdict.
    """
    from forgetcheck.commands.options import quiet_libraries
    from forgetcheck.report.audit import render_audit_text, write_audit_folder
    from forgetcheck.workflows.audit import audit_suite

    quiet_libraries(quiet)
    result = audit_suite(suite, model_spec, tolerance=tolerance, confidence=confidence, seed=seed,
                         capabilities=tuple(capabilities), dtype=dtype, device=device, batch_tokens=batch_tokens,
                         allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, progress=not quiet,
                         files_anywhere=files_outside_suite, task_code=task_code)
    click.echo(render_audit_text(result), nl=False)
    if out_dir:
        paths = write_audit_folder(result, out_dir)
        click.echo(f"wrote {paths['json']} and {paths['markdown']}")


def _suite_and_probes(name: str, files_anywhere: bool = False, task_code: bool = False) -> tuple[Suite, list[Probe]]:
    """NAME is a suite (built-in name or path) or SUITE:PROBE."""
    try:
        suite = load_suite(name, files_anywhere=files_anywhere, task_code=task_code)
        return suite, suite.probes
    except BadInput:
        if ":" not in name:
            raise
    suite_name, probe_name = name.rsplit(":", 1)
    suite = load_suite(suite_name, files_anywhere=files_anywhere, task_code=task_code)
    chosen = [p for p in suite.probes if p.name == probe_name]
    if not chosen:
        raise BadInput(f"suite {suite.name!r} has no probe {probe_name!r}; it has {', '.join(p.name for p in suite.probes)}")
    return suite, chosen


def _render_only_scorer(model_spec: str, trust_remote_code: bool):
    """A scorer holding only the tokenizer: enough to render prompts the way a run does."""
    from transformers import AutoTokenizer

    from forgetcheck.scoring.hf import HFScorer
    from forgetcheck.models.specs import resolve

    spec = resolve(model_spec)
    if spec.adapter:
        raise BadInput(f"--model {model_spec!r} is a PEFT adapter; give its base model, whose tokenizer a run uses")
    kwargs = {"trust_remote_code": trust_remote_code}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.path, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInput(f"--model {model_spec!r}: cannot load its tokenizer ({first[:300]})") from None
    return HFScorer(None, tokenizer, progress=False)


def _show_item(probe: Probe, item, scorer) -> None:
    expected = _expected(probe, item)
    click.echo(f"  item {_printable(item.id)}" + (f" · expected {_printable(expected)}" if expected else ""))
    if probe.kind == "perplexity":
        click.echo("    scored as plain text (rolling log-likelihood; no chat template):")
        _block(item.text)
        return
    if scorer is None:
        # Without a tokenizer only the plain view can be rendered; say when a run would use the other.
        note = {"off": "used by a run", "on": "a run uses the chat-template view; pass --model to see it",
                "auto": "a run uses the chat-template view when the model has one; pass --model to see it"}
        views = [(False, f"without chat template ({note[probe.chat_template]})")]
    else:
        from forgetcheck.suites.asking import use_chat

        chat_used = probe.chat_template == "on" or use_chat(probe, scorer)
        views = [(False, "without chat template" + ("" if scorer.has_chat_template else " (the tokenizer has none)"))]
        if scorer.has_chat_template:
            views.append((True, "with chat template"))
        views = [(chat, f"{label}, {'used by a run' if chat == chat_used else 'not used'}") for chat, label in views]
    for chat, label in views:
        click.echo(f"    {label}:")
        if probe.kind == "choice":
            from forgetcheck.suites.asking import choice_requests

            requests = choice_requests(probe, item, chat, scorer or _PlainText())
            _block(requests[0][0])
            marks = [json.dumps(cont, ensure_ascii=False) + (" ✓" if k == item.target else "")
                     for k, (_, cont) in enumerate(requests)]
            click.echo(f"      then each continuation: {_printable(' · '.join(marks))}")
        else:
            from forgetcheck.suites.asking import render_prompt

            _block(render_prompt(item.prompt, chat, scorer or _PlainText()))
            stops = ", ".join(json.dumps(s, ensure_ascii=False) for s in probe.stop)
            click.echo(f"      then greedy generation: at most {probe.max_tokens} tokens, cut at {_printable(stops)}")


class _PlainText:
    """Stands in for a scorer when no --model is given: only the plain-text view is rendered."""

    has_chat_template = False

    def chat_prompt(self, user_text: str) -> str:  # pragma: no cover - plain views never ask for chat
        raise BadInput("the chat-template view needs --model")


def _expected(probe: Probe, item) -> str | None:
    from forgetcheck.suites.asking import expected_text

    return expected_text(probe, item)


def _block(text: str) -> None:
    """Prompt text line by line behind a gutter, so leading and trailing blank lines stay visible."""
    for line in text.split("\n"):
        click.echo(f"      │{_printable(line)}")


def _printable(text: str) -> str:
    """Probe files are downloaded text: show control characters escaped, never sent to the terminal."""
    return "".join(ch if ch.isprintable() or ch == "\t" else ascii(ch)[1:-1] for ch in str(text))
