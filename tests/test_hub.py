"""Hub ids end to end, against a small fake Hugging Face Hub on 127.0.0.1.

``FakeHub`` serves repositories from local folders, each at one fixed fake commit
sha (reachable as ``main`` or as the sha itself). It fakes only the endpoints that
``huggingface_hub.snapshot_download`` and ``HfApi.list_repo_files`` call:

* ``GET /api/models/{repo}[/revision/{rev}]``: model info; ``snapshot_download``
  reads the commit ``sha`` from it to name the snapshot folder.
* ``GET /api/models/{repo}/tree/{rev}``: the file listing it filters with
  ``allow_patterns`` (one page: no ``Link`` header).
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: file metadata, then bytes;
  ``X-Repo-Commit``, ``ETag`` and ``Content-Length`` are what ``hf_hub_download``
  needs. Files are served directly (no CDN redirect), and no ``X-Xet-*``
  headers or ``xetHash`` fields are ever sent, so the client downloads over
  plain HTTP and never tries the Xet protocol.

Errors carry ``X-Error-Code`` as the real Hub's do (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``), which is how the client picks the
exception it raises.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import write_suite
from tests.test_cli import assert_one_line_error, run_subprocess

API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+)|/tree/(?P<tree>[^/]+))?/?$")
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def fake_sha(repo_id: str) -> str:
    return hashlib.sha1(repo_id.encode()).hexdigest()


class FakeHub(BaseHTTPRequestHandler):
    """Answers from ``self.server.repos``: repo id -> folder, at commit ``fake_sha(repo id)``."""

    def do_GET(self):  # noqa: N802
        # Match before unquoting: a revision such as refs/pr/3 arrives as refs%2Fpr%2F3.
        path = urlsplit(self.path).path
        if match := API.match(path):
            folder, sha = self._lookup(match["repo"], unquote(match["rev"] or match["tree"] or "main"))
            if folder is None:
                return
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            names = [p.relative_to(folder).as_posix() for p in files]
            if match["tree"]:
                body = [{"type": "file", "path": name, "size": p.stat().st_size,
                         "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for name, p in zip(names, files)]
            else:
                body = {"id": match["repo"], "sha": sha, "private": False,
                        "siblings": [{"rfilename": name} for name in names]}
            return self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        if match := RESOLVE.match(path):
            folder, sha = self._lookup(match["repo"], unquote(match["rev"]))
            if folder is None:
                return
            file = folder / unquote(match["path"])
            if not file.is_file():
                return self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
            data = file.read_bytes()
            return self._send(200, data, {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha,
                                          "ETag": f'"{hashlib.sha256(data).hexdigest()}"'})
        self._send(404, b"", {})

    def do_HEAD(self):  # noqa: N802
        self.do_GET()  # _send leaves the body out for HEAD

    def _lookup(self, repo_id: str, revision: str) -> tuple[Path | None, str]:
        folder, sha = self.server.repos.get(repo_id), fake_sha(repo_id)
        if folder is None:
            self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
        elif revision not in ("main", sha, "refs/pr/1"):
            self._send(404, b'{"error": "Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"})
            folder = None
        return folder, sha

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tmp_path):
    """Start a FakeHub; yields ``(repos, env)``: add ``repos[repo_id] = folder``, run the CLI with ``env``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    server.repos = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    try:
        yield server.repos, env
    finally:
        server.shutdown()
        server.server_close()


def compare(env, base, candidate, tmp_path, *extra):
    suite = write_suite(tmp_path / "s", n_facts=8)
    return run_subprocess("compare", base, candidate, "--suite", suite, "--out", tmp_path / "r",
                          "--fail-on", "never", "--quiet", *extra, env=env)


def test_hub_base_against_itself(hub, tiny_base, tmp_path):
    repos, env = hub
    repos["fake-org/tiny"] = tiny_base
    result = compare(env, "fake-org/tiny@main", "fake-org/tiny@main", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["base"]["source"] == "hub"
    assert report["base"]["resolved"] == report["candidate"]["resolved"] == fake_sha("fake-org/tiny")


def test_hub_adapter_against_base_pinned_by_sha(hub, tiny_base, forgetful_adapter, tmp_path):
    repos, env = hub
    repos["fake-org/tiny"] = tiny_base
    repos["fake-org/tiny-adapter"] = forgetful_adapter
    result = compare(env, f"fake-org/tiny@{fake_sha('fake-org/tiny')}", "fake-org/tiny-adapter", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["candidate"]["adapter"] is True
    assert report["candidate"]["resolved"] == fake_sha("fake-org/tiny-adapter")
    assert report["base"]["resolved"] == fake_sha("fake-org/tiny")


def test_hub_pull_request_revision(hub, tiny_base, tmp_path):
    repos, env = hub
    repos["fake-org/tiny"] = tiny_base
    result = compare(env, "fake-org/tiny@main", "fake-org/tiny@refs/pr/1", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["candidate"]["spec"] == "fake-org/tiny@refs/pr/1"


def test_unknown_hub_id_is_one_line(hub, tiny_base, tmp_path):
    _, env = hub  # a Hub that knows no repositories, as the real one answers a typo
    result = compare(env, tiny_base, "no-such-org/no-such-model@main", tmp_path)
    assert_one_line_error(result, "no-such-org/no-such-model", "not found")


def test_hub_unknown_revision_is_one_line(hub, tiny_base, tmp_path):
    repos, env = hub
    repos["fake-org/tiny"] = tiny_base
    result = compare(env, tiny_base, "fake-org/tiny@nope", tmp_path)
    assert_one_line_error(result, "fake-org/tiny@nope", "revision 'nope'")


def test_hub_pickle_only_repo_needs_allow_pickle(hub, tiny_base, tmp_path):
    import torch
    from safetensors.torch import load_file

    pickled = tmp_path / "pickled-repo"
    pickled.mkdir()
    for file in tiny_base.iterdir():
        if file.suffix != ".safetensors":
            shutil.copy(file, pickled / file.name)
    torch.save(load_file(tiny_base / "model.safetensors"), pickled / "pytorch_model.bin")
    repos, env = hub
    repos["fake-org/tiny"] = tiny_base
    repos["fake-org/pickled"] = pickled
    result = compare(env, "fake-org/tiny", "fake-org/pickled", tmp_path)
    assert_one_line_error(result, "fake-org/pickled", "pickle", "--allow-pickle")
    allowed = compare(env, "fake-org/tiny", "fake-org/pickled", tmp_path, "--allow-pickle")
    assert allowed.returncode == 0, allowed.stderr
