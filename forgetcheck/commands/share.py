"""Commands that take a saved report to where people decide: PR comments, model cards, a webhook.

``comment github`` / ``comment hub`` and ``card`` read a ``report.json`` and never
run a model; ``serve-webhook`` runs a comparison for each Hub pull request it hears of.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from forgetcheck.errors import BadInput
from forgetcheck.options import DEFAULTS

REPORT = click.argument("report_json", metavar="REPORT", type=click.Path(dir_okay=True))


def comment_choices(with_off: bool = False):
    """--key, --mode, --on and --alert-threshold: how forgetcheck's comment is kept
    (forgetcheck.integrations.comment_policy); ``with_off`` adds --mode off, for serve-webhook."""
    from forgetcheck.integrations.comment_policy import MODES, WHEN

    def add(func):
        func = click.option("--alert-threshold", default=None, metavar="POINTS",
                            help="For --on alert: a capability alerts when it regressed by more than this many "
                                 "points, judged again from the report's items [default: the report's "
                                 "tolerance].")(func)
        func = click.option("--on", "on", type=click.Choice(WHEN), default="always", show_default=True,
                            help="When to comment: every run, only when the verdicts or drops differ from the "
                                 "earlier comment's, or only on an alert (an earlier comment is still kept "
                                 "current).")(func)
        func = click.option("--mode", type=click.Choice([m for m in MODES if with_off or m != "off"]),
                            default="update", show_default=True,
                            help="What becomes of the earlier comment: edited in place, deleted and posted anew "
                                 "(recreate), or hidden as outdated and posted anew (hide-old)"
                                 + ("; off never comments." if with_off else "."))(func)
        return click.option("--key", default="", help="Tells apart several forgetcheck comments on one pull "
                                                      "request.")(func)

    return add


def comment_modes(func):
    """The options both ``comment github`` and ``comment hub`` take (forgetcheck.integrations.comment_policy)."""
    func = click.option("--github-output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                        help="Append comment-id= and comment-url= lines here (the Action passes "
                             "$GITHUB_OUTPUT).")(func)
    return comment_choices()(func)


def said(posted, where: str, how: str = "hidden") -> str:
    """The one line a comment command prints; ``how`` the earlier comments went (deleted or hidden)."""
    if posted.what == "skipped":
        return f"forgetcheck: no comment on {where}: nothing regressed beyond the alert threshold (--on alert)"
    retired = ""
    if posted.retired:
        retired = f" ({posted.retired} earlier comment{'s' if posted.retired > 1 else ''} {how})"
    return f"forgetcheck: comment {posted.what} on {where}{retired}" + (f": {posted.url}" if posted.url else "")


def write_outputs(path: str | None, posted) -> None:
    """``comment-id`` and ``comment-url`` as step outputs, one line each."""
    if path:
        from forgetcheck.integrations.action_outputs import one_line

        with open(path, "a", encoding="utf-8") as file:
            file.write(f"comment-id={one_line(posted.id)}\ncomment-url={one_line(posted.url)}\n")


def planned(comparison, on: str, alert_threshold: str | None) -> bool:
    """Whether the report alerts (only asked for --on alert: re-judging takes a moment)."""
    from forgetcheck.integrations.comment_policy import alerts, threshold

    points = threshold(alert_threshold, "--alert-threshold")
    return alerts(comparison, points) if on == "alert" else True


@click.group("comment")
def comment() -> None:
    """Post a saved report as the one sticky comment on a pull request."""


@comment.command("github")
@REPORT
@click.option("--repo", envvar="GITHUB_REPOSITORY", show_envvar=True, help="OWNER/NAME of the repository.")
@click.option("--pr", type=int, default=None,
              help="The pull request's number [default: read from the event in GITHUB_EVENT_PATH].")
@click.option("--api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True,
              show_envvar=True, help="The GitHub API root (GitHub Enterprise has its own).")
@click.option("--token-env", default="GITHUB_TOKEN", show_default=True,
              help="The environment variable holding the token (GH_TOKEN is tried next). Tokens are "
                   "not taken as options, which would show them in process lists and logs.")
@comment_modes
@click.option("--details-url", default=None,
              help="Where the full report is, named if the comment has to be cut "
                   "[default: this Actions run, whose artifacts hold it].")
@click.option("--summary-fallback/--no-summary-fallback", default=True, show_default=True,
              help="When the token may not comment (a fork's pull request), append the report to "
                   "GITHUB_STEP_SUMMARY instead.")
@click.option("--author", envvar="FORGETCHECK_COMMENT_AUTHOR", show_envvar=True, default=None,
              help="The login the token comments as; only its comments are ever edited "
                   "[default: asked of GitHub (GraphQL viewer); in Actions, github-actions[bot]].")
@click.option("--expect-sha", default=None, metavar="SHA",
              help="Refuse (exit 2) unless the pull request's head is this commit: pass the sha the "
                   "report was made for (in a workflow_run workflow, github.event.workflow_run.head_sha).")
def comment_github(report_json, repo, pr, api_url, token_env, key, mode, on, alert_threshold, github_output,
                   details_url, summary_fallback, author, expect_sha):
    """Create or update forgetcheck's comment on a GitHub pull request.

    Reads GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_API_URL and the token from the
    environment a GitHub Actions step has, so in a workflow it needs only REPORT.
    """
    from forgetcheck.integrations.github import (
        GitHub,
        Identity,
        ReadOnlyToken,
        post_sticky_comment,
        pull_request_from_event,
        run_url,
    )
    from forgetcheck.integrations.comment_policy import comment_with_digest
    from forgetcheck.report.comment import marker
    from forgetcheck.report.side_by_side import read_run

    comparisons = read_run(report_json)  # one report, or a several-candidate run's folder
    alert = any(planned(c, on, alert_threshold) for c in comparisons.values())
    if not repo:
        raise BadInput("no repository: pass --repo OWNER/NAME (GitHub Actions sets GITHUB_REPOSITORY)")
    pr = pr if pr is not None else pull_request_from_event(os.environ.get("GITHUB_EVENT_PATH"))
    if pr is None:
        raise BadInput("no pull request: this event is not a pull request; pass --pr N")
    token = os.environ.get(token_env) or os.environ.get("GH_TOKEN")
    if not token:
        raise BadInput(f"no token: set {token_env} (in a workflow: env: {token_env}: ${{{{ github.token }}}})")
    body = comment_with_digest(comparisons, key=key, details=details_url or run_url())
    try:
        posted = post_sticky_comment(GitHub(api_url, token), repo, pr, body, marker(key),
                                     author=Identity(author) if author else None, expect_sha=expect_sha,
                                     mode=mode, on=on, alert=alert)
    except ReadOnlyToken as exc:
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        where = "the job's step summary" if summary else "nowhere else (no GITHUB_STEP_SUMMARY)"
        click.echo(f"forgetcheck: cannot comment on {repo}#{pr}: {exc}; a pull request from a fork gets a "
                   f"read-only token, so the report is in {where}. To comment on forks' pull requests, "
                   "post from a workflow_run workflow: see action/README.md", err=True)
        if summary and summary_fallback:
            with open(summary, "a", encoding="utf-8") as file:
                file.write(body + "\n")
        return
    write_outputs(github_output, posted)
    click.echo(said(posted, f"{repo}#{pr}", "deleted" if mode == "recreate" else "hidden"))


@comment.command("hub")
@REPORT
@click.option("--repo-id", required=True, help="ORG/NAME of the model repository on the Hub.")
@click.option("--pr", type=int, required=True, help="The Hub discussion or pull request number.")
@comment_modes
def comment_hub(report_json, repo_id, pr, key, mode, on, alert_threshold, github_output):
    """Create or update forgetcheck's comment on a Hub pull request (token: HF_TOKEN).

    The comment modes are GitHub's; the Hub cannot delete a comment, so --mode
    recreate hides the earlier one, as hide-old does.
    """
    from forgetcheck.integrations.comment_policy import comment_with_digest
    from forgetcheck.integrations.hub import keep_hub_comment
    from forgetcheck.report.comment import marker
    from forgetcheck.report.side_by_side import read_run

    comparisons = read_run(report_json)  # one report, or a several-candidate run's folder
    alert = any(planned(c, on, alert_threshold) for c in comparisons.values())
    body = comment_with_digest(comparisons, key=key)
    posted = keep_hub_comment(repo_id, pr, body, marker(key), mode=mode, on=on, alert=alert)
    write_outputs(github_output, posted)
    click.echo(said(posted, f"{repo_id} #{pr}"))


@click.command("card")
@REPORT
@click.option("--readme", type=click.Path(dir_okay=False), default=None, help="A local model card to update.")
@click.option("--repo-id", default=None, help="ORG/NAME: update the card of this Hub repository instead.")
@click.option("--revision", default=None, help="The Hub branch to read and commit to [default: main].")
@click.option("--create-pr", is_flag=True, help="Open a Hub pull request instead of committing.")
@click.option("--with-chart", is_flag=True, help="Show the chart in the card, saved next to the README.")
@click.option("--source-url", default=None, metavar="URL",
              help="Where the results can be checked, named as the eval results' source "
                   "[default: this GitHub Actions run, from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID].")
@click.option("--source-name", default=None,
              help="The source's name [default: 'GitHub Actions run' for a run, else 'forgetcheck report'].")
@click.option("--candidate", default=None, metavar="LABEL",
              help="For the folder of a several-candidate run: the candidate this card describes (its results go "
                   "in model-index; the section shows all side by side) [default: the one named like the model].")
def card(report_json, readme, repo_id, revision, create_pr, with_chart, source_url, source_name, candidate):
    """Write the report into a model card, between forgetcheck's markers.

    Nothing else in the card changes but its model-index (this suite's eval results;
    other suites' and other tools' are kept) and base_model (added if missing). Where
    capabilities come from Hub datasets, .eval_results/forgetcheck-SUITE.yaml is
    written beside the card too. Running it twice changes nothing.
    """
    from forgetcheck.files import write_atomic
    from forgetcheck.integrations.card import CHART_NAME, Source, eval_results_file, eval_results_path, update_card
    from forgetcheck.integrations.github import run_url
    from forgetcheck.report.side_by_side import card_report

    if (readme is None) == (repo_id is None):
        raise BadInput("give one of --readme PATH (a local card) or --repo-id ORG/NAME (a card on the Hub)")
    if readme and (revision or create_pr):
        raise BadInput("--revision and --create-pr are for --repo-id; a local card is written in place")
    # The card describes the model in its folder (or Hub repo), so that names it in model-index.
    model_name = repo_id.split("/")[-1] if repo_id else Path(readme).resolve().parent.name
    comparison, markdown = card_report(report_json, model_name, candidate)
    if source_url and not source_url.startswith(("https://", "http://")):
        raise BadInput(f"--source-url {source_url[:80]!r}: give a web address (https://...)")
    url = source_url or run_url()
    link = Source(url, source_name or ("GitHub Actions run" if not source_url else "forgetcheck report")) \
        if url else None
    if repo_id:
        from forgetcheck.integrations.hub import push_card

        done, where = push_card(comparison, repo_id, revision=revision, create_pr=create_pr,
                                with_chart=with_chart, link=link, markdown=markdown)
        click.echo(f"forgetcheck: {repo_id} card {done}" + (f": {where}" if where else ""))
        return
    path = Path(readme)
    try:
        old = path.read_bytes().decode("utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); a model card must be UTF-8") from None
    new = update_card(old, comparison, chart=CHART_NAME if with_chart else None, model_name=model_name,
                      source=str(path), link=link, markdown=markdown)
    path.parent.mkdir(parents=True, exist_ok=True)
    if with_chart:
        from forgetcheck.report.chart import write_chart

        write_chart(comparison, path.parent / CHART_NAME)
    written = []
    results, results_path = eval_results_file(comparison, link), path.parent / eval_results_path(comparison)
    if results is not None and (not results_path.exists() or results_path.read_bytes() != results.encode()):
        results_path.parent.mkdir(exist_ok=True)
        write_atomic(results_path, results)
        written.append(str(results_path))
    if new != old:
        write_atomic(path, new)
        written.insert(0, f"the forgetcheck section of {path}")
    if not written:
        click.echo(f"forgetcheck: {path} already holds this report; unchanged")
        return
    click.echo("forgetcheck: wrote " + " and ".join(written) + (" and its chart" if with_chart else ""))


@click.command("serve-webhook")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--secret-env", default="FORGETCHECK_WEBHOOK_SECRET", show_default=True,
              help="The environment variable holding the webhook's secret (X-Webhook-Secret).")
@click.option("--watch", multiple=True, metavar="ORG/NAME",
              help="Only these model repos (repeat it); by default, every repo the webhook sends.")
@click.option("--suite", default="core", show_default=True, help="Built-in suite name or path to a suite YAML.")
@click.option("--tolerance", type=float, default=DEFAULTS.tolerance, show_default=True,
              help="Largest drop that still counts as held, absolute (0.02 = 2 points).")
@click.option("--confidence", type=float, default=DEFAULTS.confidence, show_default=True,
              help="Confidence level of the intervals.")
@click.option("--dtype", default=DEFAULTS.dtype, show_default=True,
              help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16, float16.")
@click.option("--device", default=DEFAULTS.device, show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--batch-tokens", type=int, default=None, help="Token budget per batch (padded tokens).")
@click.option("--out", "out_dir", default="forgetcheck-webhook", show_default=True,
              type=click.Path(file_okay=False), help="Where each pull request's report folder is kept.")
@comment_choices(with_off=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Comparisons run at once, over all repos (each loads two models).")
@click.option("--max-queued", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Jobs that may wait; one more is answered 503 and the Hub retries it later.")
def serve_webhook(host, port, secret_env, watch, suite, tolerance, confidence, dtype, device, batch_tokens,
                  out_dir, key, mode, on, alert_threshold, workers, max_queued):
    """Compare every new or updated pull request of a Hub model repo and comment on it.

    Point a Hub webhook (scopes: repo.content and discussion) at this server, with a
    secret; HF_TOKEN must be able to comment on the repos' discussions.

    The comment modes are those of comment hub (the Hub cannot delete a comment, so
    --mode recreate hides the earlier one). A comparison that fails is always posted,
    under --on alert too, and counts as a change unless the earlier comment reports
    the same failure.
    """
    from forgetcheck.integrations.comment_policy import threshold
    from forgetcheck.integrations.webhook import WebhookSettings, make_server
    from forgetcheck.report.comment import marker
    from forgetcheck.suites.suite import load_suite

    secret = os.environ.get(secret_env)
    if not secret:
        raise BadInput(f"no webhook secret: set {secret_env} to the secret configured on the Hub webhook")
    marker(key)  # checks the key and the threshold before the server starts
    points = threshold(alert_threshold, "--alert-threshold")
    load_suite(suite)  # a wrong suite is a one-line error now, not a failed comment later
    options = DEFAULTS.with_overrides(tolerance=tolerance, confidence=confidence, dtype=dtype, device=device,
                                      batch_tokens=batch_tokens, progress=False)
    settings = WebhookSettings(suite=suite, options=options, out_dir=Path(out_dir), key=key, mode=mode, on=on,
                               alert_threshold=points)
    try:
        server = make_server(host, port, secret, set(watch), settings, workers=workers, max_queued=max_queued)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    watched = ", ".join(watch) if watch else "every repo the webhook sends"
    click.echo(f"forgetcheck: serving Hub webhooks on http://{host}:{server.server_port} for {watched}",
               err=True)
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
