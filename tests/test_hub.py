"""Hub ids end to end, against a small fake Hugging Face Hub on 127.0.0.1.

``FakeHub`` of conftest.py serves repositories from local folders, each at one
fixed fake commit sha (``fake_sha``); the real huggingface_hub client downloads
from it over plain HTTP.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.conftest import FakeHub, assert_one_line_error, fake_sha, run_subprocess, write_suite


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
