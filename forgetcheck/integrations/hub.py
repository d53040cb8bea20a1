"""The Hugging Face Hub side: a sticky comment on a Hub pull request, the card on the Hub.

Both go through ``huggingface_hub``'s own client (``HfApi``), so ``HF_TOKEN`` and
``HF_ENDPOINT`` work as they do everywhere else:

* ``keep_hub_comment`` reads the discussion (``get_discussion_details``) and, by
  the comment mode (:mod:`forgetcheck.integrations.comment_policy`), edits
  forgetcheck's earlier comment (``edit_discussion_comment``) or hides it
  (``hide_discussion_comment``) and adds one (``comment_discussion``). An earlier
  comment is ours only when
  its last line is the marker *and* its author is the token's own account
  (``whoami``): anyone may paste the marker into a comment, and the marker alone
  would let them have it overwritten.
* ``push_card`` downloads the repository's README.md, writes forgetcheck's section
  and metadata into it (:mod:`forgetcheck.integrations.card`) and commits it, with
  the chart if asked and the suite's ``.eval_results`` file where its datasets are
  on the Hub, as a commit or as a Hub pull request (``create_commit``); a file that
  already says the same is not committed again.

Hub errors become one-line :class:`ForgetcheckError`s; the token is never shown.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path

from forgetcheck.comparison import Comparison
from forgetcheck.errors import ForgetcheckError
from forgetcheck.hub_errors import hub_errors as shared_hub_errors
from forgetcheck.integrations.card import CHART_NAME, Source, eval_results_file, eval_results_path, update_card
from forgetcheck.integrations.comment_policy import Posted, digest_of, plan
from forgetcheck.report.comment import is_ours


class HubError(ForgetcheckError):
    """The Hub refused or failed a request; the message says which and what to do."""


def keep_hub_comment(repo_id: str, number: int, body: str, comment_marker: str, *, repo_type: str = "model",
                     mode: str = "update", on: str = "always", alert: bool = True) -> Posted:
    """Keep forgetcheck's comment on Hub discussion/PR ``number`` by ``mode`` and ``on``.

    The modes are GitHub's (:mod:`forgetcheck.integrations.comment_policy`), with one
    difference: the Hub cannot delete a comment, so ``recreate`` hides the earlier
    one, as ``hide-old`` does. Only comments by the token's own account with the
    marker on their last line are edited or hidden; hidden ones are never counted.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    where = f"{repo_id} discussion #{number}"
    with hub_errors(where):
        me = token_account(api)
        details = api.get_discussion_details(repo_id, number, repo_type=repo_type)
        ours = [{"id": e.id, "body": e.content} for e in details.events
                if e.type == "comment" and not getattr(e, "hidden", False)
                and getattr(e, "author", None) == me and is_ours(getattr(e, "content", None), comment_marker)]
        decided = plan(ours, body, digest_of(body) or "", mode=mode, on=on, alert=alert)
        if decided.action == "skip":
            return Posted("skipped")
        if decided.action == "update":
            api.edit_discussion_comment(repo_id, number, decided.edit["id"], body, repo_type=repo_type)
        if decided.action in ("unchanged", "update"):
            what = "updated" if decided.action == "update" else "unchanged"
            return Posted(what, f"{details.url}#{decided.edit['id']}", decided.edit["id"])
        for earlier in decided.retire:
            with warnings.catch_warnings():  # "hiding is irreversible": meant for people, and intended here
                warnings.simplefilter("ignore", UserWarning)
                api.hide_discussion_comment(repo_id, number, earlier["id"], repo_type=repo_type)
        made = api.comment_discussion(repo_id, number, body, repo_type=repo_type)
        return Posted("created", f"{details.url}#{made.id}", made.id, len(decided.retire))


def token_account(api) -> str:
    """The Hub account the token writes as (``whoami``), asked once per token and endpoint.

    The Hub rate-limits ``whoami`` hard, and the webhook comments on every push.
    """
    from huggingface_hub import get_token

    token = api.token or get_token()
    if not token:
        raise HubError("no Hub token: set HF_TOKEN to a token that may comment on the repository")
    key = (api.endpoint, hashlib.sha256(token.encode()).hexdigest())
    if key not in _ACCOUNTS:
        name = api.whoami(token=token).get("name")
        if not isinstance(name, str) or not name:
            raise HubError("the Hub did not say which account the token belongs to (whoami); check HF_TOKEN")
        _ACCOUNTS[key] = name
    return _ACCOUNTS[key]


_ACCOUNTS: dict[tuple[str, str], str] = {}


def push_card(comparison: Comparison, repo_id: str, *, revision: str | None = None, create_pr: bool = False,
              with_chart: bool = False, link: Source | None = None, markdown: str | None = None) -> tuple[str, str]:
    """Write forgetcheck's section into ``repo_id``'s README.md on the Hub.

    Returns ``(what, url)``: what is ``committed``, ``opened a pull request`` or
    ``unchanged`` (nothing to commit: the card already says this).
    """
    from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
    # Not EntryNotFoundError: its subclass LocalEntryNotFoundError means the Hub was
    # unreachable, and treating that as "no README" would overwrite the card.
    from huggingface_hub.errors import RemoteEntryNotFoundError

    api = HfApi()
    with hub_errors(repo_id + (f"@{revision}" if revision else "")):
        try:
            path = hf_hub_download(repo_id, "README.md", revision=revision)
            old = Path(path).read_bytes().decode("utf-8")  # bytes: keep its line endings
        except RemoteEntryNotFoundError:
            old = ""
        new = update_card(old, comparison, chart=CHART_NAME if with_chart else None,
                          model_name=repo_id.split("/")[-1], source=f"{repo_id}/README.md", link=link,
                          markdown=markdown)
        operations = []
        if new != old:
            operations.append(CommitOperationAdd("README.md", new.encode("utf-8")))
        results = eval_results_file(comparison, link)
        files = {CHART_NAME: chart_png(comparison) if with_chart else None,
                 eval_results_path(comparison): None if results is None else results.encode("utf-8")}
        for name, content in files.items():
            if content is None:
                continue
            try:
                same = Path(hf_hub_download(repo_id, name, revision=revision)).read_bytes() == content
            except RemoteEntryNotFoundError:
                same = False
            if not same:
                operations.append(CommitOperationAdd(name, content))
        if not operations:
            return "unchanged", ""
        info = api.create_commit(repo_id, operations, commit_message="forgetcheck: update the forgetting check",
                                 commit_description="Written by `forgetcheck card` from a saved report.json.",
                                 revision=revision, create_pr=create_pr)
    if create_pr:
        return "opened a pull request", info.pr_url or ""
    return "committed", info.commit_url


def chart_png(comparison: Comparison) -> bytes:
    """The report's chart as PNG bytes (the chart module writes files, atomically)."""
    from forgetcheck.report.chart import write_chart

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / CHART_NAME
        write_chart(comparison, path)
        return path.read_bytes()


def hub_errors(where: str):
    """huggingface_hub's failures inside the block as a one-line :class:`HubError` naming ``where``."""
    return shared_hub_errors(where, HubError, unreachable="the Hub cannot be reached; check HF_ENDPOINT and the network")


