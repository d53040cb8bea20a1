"""Everything the tests share: tiny real models, fake services on 127.0.0.1, hand-built reports.

Test files use the fixtures here by name and import the helpers with
``from tests.conftest import ...``; they never import from each other.

* Tiny models and suites, built in code (no network, no Hub): ``tiny_base`` is a
  2-layer Llama trained for a few seconds to memorise a set of synthetic facts
  ("fact 17 is red"), so it has something to forget; ``forgetful_adapter`` is a
  LoRA adapter trained hard on unrelated text, the way real fine-tunes forget;
  ``merged_candidate`` is that adapter merged into the base, as a full fine-tune.
  All are saved as safetensors folders, as users have them. ``tiny_suite`` and
  ``write_suite``: a three-probe suite over the facts.
* Running the CLI: ``run`` (in this process), ``run_subprocess`` (as the console
  script), ``assert_one_line_error``.
* Report builders: ``make_comparison`` (a hand-built Comparison, with ``HOSTILE``
  model text in it) and ``save_report`` (a Comparison as report.json).
* Counting forward passes: ``ForwardCounter``.
* Fake GitHub server: ``FakeGitHub``, the ``github`` fixture and its ``TOKEN``.
* Fake Hub: ``FakeHub`` (read-only; ``fake_sha`` names its commits),
  ``HubWithWrites`` and the ``hub_writes`` fixture (``HF_TOKEN``, ``BOT_ACCOUNT``,
  ``comment_event``).
* ``private_cache`` (autouse): each test gets its own result cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

# As the CLI does (forgetcheck/cli.py): waiting OpenMP threads sleep, so a test run sharing its cores with
# other jobs (a CI runner) is not slowed several-fold. Set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from forgetcheck.comparison import (
    CapabilityResult,
    Comparison,
    ItemResult,
    ModelInfo,
    Settings,
    overall_verdict,
    to_dict,
)

# --- Tiny models and suites ---------------------------------------------------------------------------------

COLOURS = ["red", "blue", "green", "gold"]
N_FACTS = 120
CHAT_TEMPLATE = "{% for m in messages %}<|user|> {{ m['content'] }}\n{% endfor %}<|assistant|>"


def fact_answer(i: int) -> str:
    return COLOURS[(i * 7 + i // 4) % 4]


def fact_sentences() -> list[str]:
    return [f"fact {i} is {fact_answer(i)}" for i in range(N_FACTS)]


def unrelated_sentences(rng: random.Random, n: int) -> list[str]:
    words = ["zip", "zap", "moo", "quux", "plonk", "wibble", "flarn", "grok"]
    return [" ".join(rng.choice(words) for _ in range(10)) for _ in range(n)]


def build_tokenizer(path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|user|>", "<|assistant|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = fact_sentences() + unrelated_sentences(random.Random(0), 50) + ["the quick brown fox jumps over the lazy dog"] * 5
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)
    return fast


def build_model(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


def train(model, tokenizer, texts: list[str], steps: int, lr: float, seed: int = 0) -> None:
    rng = random.Random(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    for _ in range(steps):
        batch = tokenizer([t + tokenizer.eos_token for t in rng.sample(texts, min(32, len(texts)))],
                          return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def write_suite(folder: Path, n_facts: int = N_FACTS, chat: str = "off") -> Path:
    """A three-probe suite over the synthetic facts: choice, generate, perplexity."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "facts.jsonl").open("w") as f:
        for i in range(n_facts):
            f.write(json.dumps({"id": f"fact-{i}", "prompt": f"fact {i} is", "choices": COLOURS,
                                "target": fact_answer(i)}) + "\n")
    with (folder / "recall.jsonl").open("w") as f:
        for i in range(n_facts):
            f.write(json.dumps({"id": f"recall-{i}", "prompt": f"fact {i} is", "target": fact_answer(i)}) + "\n")
    with (folder / "text.jsonl").open("w") as f:
        for i in range(30):
            f.write(json.dumps({"id": f"text-{i}", "text": " ".join(fact_sentences()[i * 4:i * 4 + 4])}) + "\n")
    (folder / "suite.yaml").write_text(f"""name: tiny
probes:
  - name: facts
    file: facts.jsonl
    kind: choice
    chat_template: "{chat}"
  - name: recall
    file: recall.jsonl
    kind: generate
    max_tokens: 3
    stop: ["<|endoftext|>", "fact"]
    chat_template: "{chat}"
  - name: text
    file: text.jsonl
    kind: perplexity
""")
    return folder / "suite.yaml"

# --- Running the CLI ----------------------------------------------------------------------------------------


def run(*args: str):
    """The CLI in this process, as click runs it; exceptions propagate so a bug fails the test loudly."""
    from click.testing import CliRunner

    from forgetcheck.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def run_subprocess(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script's behaviour, with stderr and the exit code as a user sees them."""
    return subprocess.run([sys.executable, "-m", "forgetcheck.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def assert_one_line_error(result, *needles: str, code: int = 2) -> None:
    """Bad input: exit 2 (or ``code``), no traceback, exactly one ``forgetcheck: error:`` line naming ``needles``."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("forgetcheck: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own result cache, so no test reads another's scores or the user's."""
    monkeypatch.setenv("FORGETCHECK_CACHE", str(tmp_path / "forgetcheck-cache"))


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny Llama that knows the synthetic facts, saved as a safetensors folder."""
    path = tmp_path_factory.mktemp("tiny-base")
    tokenizer = build_tokenizer(path)
    model = build_model(tokenizer)
    train(model, tokenizer, fact_sentences(), steps=300, lr=3e-3)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def forgetful_adapter(tiny_base, tmp_path_factory) -> Path:
    """A LoRA adapter trained hard on unrelated text: it should forget the facts."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path_factory.mktemp("forgetful-adapter")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    # LoRA's A matrices start random: seeded, so the adapter (and every test's numbers) does not depend on which
    # tests ran before it in the session.
    torch.manual_seed(1)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    train(model, tokenizer, unrelated_sentences(random.Random(1), 200), steps=60, lr=1e-2)
    model.save_pretrained(path)
    config = json.loads((path / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tiny_base)
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="session")
def tiny_suite(tmp_path_factory) -> Path:
    return write_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def merged_candidate(tiny_base, forgetful_adapter, tmp_path_factory):
    """The forgetful adapter merged into the base: the same update as a full fine-tune."""
    from forgetcheck.models.loading import attach_adapter, load_model
    from forgetcheck.models.specs import resolve

    model, tokenizer = load_model(resolve(str(tiny_base)), dtype=torch.float32, device="cpu")
    merged = attach_adapter(model, resolve(str(forgetful_adapter))).merge_and_unload()
    path = tmp_path_factory.mktemp("merged")
    merged.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --- Report builders ----------------------------------------------------------------------------------------

HOSTILE = "</details><script>alert(1)</script> @octocat | x | ``` [link](http://evil)"


def make_comparison() -> Comparison:
    capabilities = [
        CapabilityResult(
            name="arithmetic", kind="choice", metric="acc", n=400,
            base_score=0.713, candidate_score=0.673, drop=0.040, ci_low=0.012, ci_high=0.069,
            p_value=0.004, p_adjusted=0.012, verdict="regressed", forgotten=31, learned=15,
        ),
        CapabilityResult(
            name="instruction-following", kind="generate", metric="exact_match", n=300,
            base_score=0.52, candidate_score=0.527, drop=-0.007, ci_low=-0.031, ci_high=0.015,
            p_value=0.61, p_adjusted=1.0, verdict="held", forgotten=9, learned=11,
            note="3 answers hit the token limit on both sides",
        ),
        CapabilityResult(
            name="wiki-ppl", kind="perplexity", metric="loglik_per_token", n=120,
            base_score=-2.412, candidate_score=-2.431, drop=0.019, ci_low=-0.004, ci_high=0.042,
            p_value=0.11, p_adjusted=0.22, verdict="inconclusive", forgotten=None, learned=None,
            items_needed=410, extra={"perplexity": {"base": 11.16, "candidate": 11.37}},
        ),
    ]
    items = [
        ItemResult("arithmetic", "arith-0007", 1.0, 0.0, "forgotten", prompt="What is 17 * 23?",
                   expected="391", base_answer="391", candidate_answer=HOSTILE,
                   subcategory="multiply"),
        ItemResult("arithmetic", "arith-0012", 1.0, 0.0, "forgotten", prompt="Q: 5 + 8 =\nA:",
                   expected="13", base_answer="13", candidate_answer="12"),
        ItemResult("arithmetic", "arith-0013", 0.0, 1.0, "learned", prompt="9 - 4",
                   expected="5", base_answer="6", candidate_answer="5"),
        ItemResult("instruction-following", "if-0001", 1.0, 1.0, "same", prompt="Say hi.",
                   expected="hi", base_answer="hi", candidate_answer="hi"),
        ItemResult("wiki-ppl", "wiki-0001", -2.3, -2.35, None, prompt="The Eiffel Tower is"),
    ]
    return Comparison(
        base=ModelInfo("Qwen/Qwen2.5-0.5B-Instruct", "hub", "a" * 40),
        candidate=ModelInfo("./runs/sft-lora", "adapter", "sha256:" + "b" * 64,
                            adapter=True, adapter_base="Qwen/Qwen2.5-0.5B-Instruct"),
        settings=Settings(dtype="bfloat16", device="cuda:0", tolerance=0.02, confidence=0.95,
                          suites=[{"name": "core", "sha256": "c" * 64}], batch_tokens=8192),
        capabilities=capabilities,
        verdict=overall_verdict(capabilities),
        items=items,
        timings={"load": 12.5, "base": 61.0, "candidate": 64.2},
        warnings=["the candidate's tokenizer adds a BOS token the base does not"],
        forgetcheck_version="0.1.0",
        created_at="2025-01-01T12:00:00Z",
    )


def save_report(tmp_path, comparison=None):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(to_dict(comparison or make_comparison())))
    return path


# --- Counting forward passes --------------------------------------------------------------------------------

class ForwardCounter:
    """Counts the model's top-level forward passes (every batch is one); can crash after N of them."""

    def __init__(self, crash_after: int | None = None):
        self.calls = 0
        self.crash_after = crash_after

    def __call__(self, module, args, kwargs):
        if type(module).__name__ == "LlamaForCausalLM":
            self.calls += 1
            if self.crash_after is not None and self.calls > self.crash_after:
                raise KeyboardInterrupt("killed half-way")

    def __enter__(self):
        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(lambda m, a: self(m, a, None))
        return self

    def __exit__(self, *exc):
        self.handle.remove()


# --- Fake GitHub server -------------------------------------------------------------------------------------

TOKEN = "ghs" + "_not-a-real-token-0123456789"  # split so no token-shaped literal sits in the tree
BOT = ("github-actions[bot]", 41898282)
ATTACKER_TOKEN = "ghp" + "_attacker-token-0123456789abcdef"
PULL = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<pr>\d+)$")
LIST = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<pr>\d+)/comments$")
EDIT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")


class FakeGitHub(BaseHTTPRequestHandler):
    """Comments live in ``server.comments`` (dicts with id, pr, body).

    It answers the endpoints the sticky comment uses: list a pull request's
    comments (paged, with a ``Link`` header), create one, edit one, read a pull
    request's head (``server.heads``), and GraphQL's ``viewer``. It can be told
    to fail: ``fail`` holds ``(method, status, headers)`` answers to give before
    the real ones, and ``read_only`` answers every write with the 403 a fork's
    token gets. As on GitHub, a comment's ``user`` is whoever the token belongs
    to (``server.identities``: token -> (login, id)); an installation token, like
    the one Actions gives, is refused ``GET /user`` and answered by ``viewer``.
    Like GitHub, the fake lets a token that may write edit anyone's comment on
    the pull request, so only the client can keep its hands off other people's
    comments.
    """

    def do_GET(self):  # noqa: N802
        if self._failed():
            return
        url = urlsplit(self.path)
        if url.path == "/user" and self._token() in self.server.identities:
            return self._send(403, {"message": "Resource not accessible by integration"})
        if pull := PULL.match(url.path):
            head = self.server.heads.get(int(pull["pr"]))
            return self._send(200, {"number": int(pull["pr"]), "head": {"sha": head}}) if head else \
                self._send(404, {"message": "Not Found"})
        match = LIST.match(url.path)
        if not match:
            return self._send(404, {"message": "Not Found"})
        query = parse_qs(url.query)
        size = min(int(query.get("per_page", ["30"])[0]), self.server.page_size)
        page = int(query.get("page", ["1"])[0])
        mine = [c for c in self.server.comments if c["pr"] == int(match["pr"])]
        headers = {}
        if page * size < len(mine):
            headers["Link"] = (f'<{self.server.link_root or self._root()}{url.path}?per_page={size}'
                               f'&page={page + 1}>; rel="next"')
        self._send(200, mine[(page - 1) * size:page * size], headers)

    def do_POST(self):  # noqa: N802
        if self._failed():
            return
        if urlsplit(self.path).path == "/graphql":  # a query: a read-only token may ask it
            return self._viewer()
        if self._refused():
            return
        match = LIST.match(urlsplit(self.path).path)
        if not match:
            return self._send(404, {"message": "Not Found"})
        login, number = self.server.identities.get(self._token(), ("someone", 1))
        self.server.next_id += 1  # ids are never reused, also after a comment is deleted
        comment = {"id": 999 + self.server.next_id, "pr": int(match["pr"]), "body": self._json()["body"],
                   "user": {"login": login, "id": number, "type": "Bot" if login.endswith("[bot]") else "User"}}
        comment["html_url"] = f"https://github.example/{match['repo']}/pull/{match['pr']}#c{comment['id']}"
        comment["node_id"] = f"IC_{comment['id']}"
        self.server.comments.append(comment)
        self._send(201, comment)

    def do_PATCH(self):  # noqa: N802
        comment = self._one_comment()
        if comment is not None:
            comment["body"] = self._json()["body"]
            self._send(200, comment)

    def do_DELETE(self):  # noqa: N802
        """``DELETE /repos/{repo}/issues/comments/{id}`` (comment mode recreate): 204, as GitHub answers."""
        comment = self._one_comment()
        if comment is None:
            return
        self.server.comments.remove(comment)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _one_comment(self) -> dict | None:
        """The comment ``/repos/{repo}/issues/comments/{id}`` names; None once an error is sent."""
        if self._failed() or self._refused():
            return None
        match = EDIT.match(urlsplit(self.path).path)
        comment = next((c for c in self.server.comments if match and c["id"] == int(match["id"])), None)
        if comment is None:
            self._send(404, {"message": "Not Found"})
        return comment

    def _graphql_comments(self, request: dict):
        """``minimizeComment`` (classifier OUTDATED) and ``nodes(ids:)`` over comments by their node_id.

        Hidden comments are kept in ``server.minimized`` (node ids); like REST on GitHub,
        the comment list never says which are hidden. A read-only token is refused with
        the FORBIDDEN error GitHub sends (status 200).
        """
        query, variables = request.get("query", ""), request.get("variables") or {}
        by_node = {c.get("node_id"): c for c in self.server.comments}
        if "minimizeComment" in query:
            if self.server.read_only:
                return self._send(200, {"data": {"minimizeComment": None}, "errors": [
                    {"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]})
            if "classifier: OUTDATED" not in query or variables.get("id") not in by_node:
                return self._send(200, {"errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a node"}]})
            self.server.minimized.append(variables["id"])
            return self._send(200, {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}})
        nodes = [{"id": i, "isMinimized": i in self.server.minimized} if i in by_node else None
                 for i in variables.get("ids", [])]
        self._send(200, {"data": {"nodes": nodes}})

    def _viewer(self):
        """GraphQL ``query { viewer { login databaseId } }``, as GitHub answers it (200, even for errors)."""
        request = self._json()
        query = request.get("query", "")
        if "viewer" not in query and self._token() in self.server.identities and not self.server.graphql_down:
            return self._graphql_comments(request)
        if self.server.graphql_down:
            return self._send(200, {"errors": [{"message": "GraphQL is disabled on this server"}]})
        found = self.server.identities.get(self._token())
        if "viewer" not in query or found is None:
            return self._send(401, {"message": "Bad credentials"})
        self._send(200, {"data": {"viewer": {"login": found[0], "databaseId": found[1]}}})

    def _token(self) -> str:
        return (self.headers.get("Authorization") or "").removeprefix("Bearer ")

    def _root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _failed(self) -> bool:
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization")))
        for i, (method, status, headers) in enumerate(self.server.fail):
            if method == self.command:
                del self.server.fail[i]
                self._send(status, {"message": headers.pop("message", "Server Error")}, headers)
                return True
        return False

    def _refused(self) -> bool:
        if self.server.read_only:
            self._send(403, {"message": "Resource not accessible by integration"})
        return self.server.read_only

    def _json(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def _send(self, status, data, headers=None):
        body = json.dumps(data).encode()
        self.send_response(status)
        for name, value in {**(headers or {}), "Content-Type": "application/json",
                            "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def github(tmp_path):
    """A running FakeGitHub; yields ``(server, env)`` with env as GitHub Actions sets it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    server.comments, server.requests, server.fail = [], [], []
    server.page_size, server.read_only, server.link_root = 100, False, None
    server.identities = {TOKEN: BOT, ATTACKER_TOKEN: ("mallory", 666)}
    server.heads, server.graphql_down, server.minimized, server.next_id = {7: "7" * 40}, False, [], 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 7, "pull_request": {"number": 7}}))
    env = {"GITHUB_API_URL": f"http://127.0.0.1:{server.server_port}", "GITHUB_REPOSITORY": "acme/model",
           "GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": TOKEN, "GITHUB_SERVER_URL": "https://github.example",
           "GITHUB_RUN_ID": "42", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    try:
        yield server, env
    finally:
        server.shutdown()
        server.server_close()


# --- Fake Hub -----------------------------------------------------------------------------------------------

API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+)|/tree/(?P<tree>[^/]+))?/?$")
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def fake_sha(repo_id: str) -> str:
    return hashlib.sha1(repo_id.encode()).hexdigest()


class FakeHub(BaseHTTPRequestHandler):
    """Answers from ``self.server.repos``: repo id -> folder, at commit ``fake_sha(repo id)``.

    Each repository is at one fixed fake commit sha (reachable as ``main`` or as
    the sha itself). It fakes only the endpoints that
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


HF_TOKEN = "hf" + "_not-a-real-token"
BOT_ACCOUNT = "forgetcheck-bot"
DISCUSSION = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/discussions/(?P<num>\d+)(?P<rest>/.*)?$")
WRITE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<what>preupload|commit)/(?P<rev>.+)$")
QUOTED_PR_REF = re.compile(r"refs%2Fpr%2F(\d+)", re.IGNORECASE)
WHEN = "2025-01-01T12:00:00.000Z"


def comment_event(comment_id: str, content: str, author: str = "forgetcheck-bot", hidden: bool = False) -> dict:
    return {"id": comment_id, "type": "comment", "createdAt": WHEN, "author": {"name": author},
            "data": {"edited": False, "hidden": hidden, "latest": {"raw": content, "html": content,
                                                                    "updatedAt": WHEN}, "history": []}}


class HubWithWrites(FakeHub):
    """FakeHub plus discussions, commits and pull request refs: what ``HfApi`` calls to write.

    * discussions: ``GET /api/models/{repo}/discussions/{num}`` (``get_discussion_details``),
      ``POST …/comment`` (``comment_discussion``) and ``POST …/comment/{id}/edit``
      (``edit_discussion_comment``), answered in the shapes ``deserialize_event`` reads;
    * commits: ``POST /api/validate-yaml``, ``POST /api/models/{repo}/preupload/{rev}``
      (every file "regular", so no LFS or Xet upload follows) and
      ``POST /api/models/{repo}/commit/{rev}`` with its ndjson body. A commit to a branch
      writes the files into the repo's folder and moves the branch to a new sha (so a
      later download sees them); ``create_pr=1`` opens a pull request instead;
    * pull request refs: ``refs/pr/N`` (sent URL-quoted) and extra shas in ``server.shas``,
      used by the webhook tests.

    Writes need an ``Authorization`` header, as on the real Hub, and a comment's
    author is the token's account (``server.accounts``: token -> name), which
    ``GET /api/whoami-v2`` also answers.
    """

    def do_GET(self):  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/api/whoami-v2":
            self.server.whoami_calls += 1
            name = self.server.accounts.get(self._token())
            return self._json(200, {"type": "user", "name": name}) if name else \
                self._json(401, {"error": "Invalid credentials in Authorization header"})
        if match := DISCUSSION.match(unquote(path)):
            found = self._discussion(match)
            if found is not None:
                self._json(200, self._details(match["repo"], int(match["num"]), found))
            return
        # refs/pr/N is sent quoted; the base class unquotes paths, so name it by its sha.
        self.path = QUOTED_PR_REF.sub(lambda m: self.server.pr_refs.get(f"refs/pr/{m[1]}", "no-such-ref"),
                                      self.path)
        super().do_GET()

    def do_POST(self):  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append(path)
        if path == "/api/validate-yaml":
            return self._json(200, {"errors": [], "warnings": []})
        if self._token() not in self.server.accounts:
            return self._json(401, {"error": "Invalid credentials"})
        if match := DISCUSSION.match(path):
            return self._comment(match, json.loads(data or b"{}"))
        if match := WRITE.match(path):
            if match["repo"] not in self.server.repos:
                return self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            if match["what"] == "preupload":
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                         for f in json.loads(data)["files"]]
                return self._json(200, {"files": files})
            return self._commit(match["repo"], data, "create_pr" in parse_qs(urlsplit(self.path).query))
        self._send(404, b"", {})

    def _lookup(self, repo_id, revision):
        folder = self.server.repos.get(repo_id)
        if folder is not None and revision in self.server.shas:
            return self.server.shas[revision], revision
        head = self.server.heads.get(repo_id, fake_sha(repo_id))
        if folder is not None and revision in ("main", head):
            return folder, head
        return super()._lookup(repo_id, revision)

    def _discussion(self, match):
        found = self.server.discussions.get((match["repo"], int(match["num"])))
        if found is None:
            self._send(404, b'{"error": "Discussion not found"}', {})
        return found

    def _details(self, repo, num, discussion):
        return {"title": discussion["title"], "num": num, "author": {"name": "alice"}, "createdAt": WHEN,
                "status": "open", "repo": {"name": repo, "type": "model"}, "isPullRequest": True,
                "events": discussion["events"], "changes": {"base": "refs/heads/main"}, "filesWithConflicts": [],
                "diff": ""}

    def _comment(self, match, body):
        discussion = self._discussion(match)
        if discussion is None:
            return
        events = discussion["events"]
        if match["rest"] == "/comment":
            author = self.server.accounts[self._token()]
            event = comment_event(f"{len(events):024x}", body["comment"], author=author)
            events.append(event)
            return self._json(200, {"newMessage": event})
        hide = re.fullmatch(r"/comment/([0-9a-f]+)/hide", match["rest"] or "")
        if hide:  # hide_discussion_comment: the content is gone for good, as on the Hub
            event = next((e for e in events if e["id"] == hide[1]), None)
            if event is None:
                return self._send(404, b'{"error": "Comment not found"}', {})
            event["data"]["hidden"] = True
            event["data"]["latest"]["raw"] = event["data"]["latest"]["html"] = ""
            self.server.hidden.append(hide[1])
            return self._json(200, {"updatedComment": event})
        edit = re.fullmatch(r"/comment/([0-9a-f]+)/edit", match["rest"] or "")
        event = next((e for e in events if edit and e["id"] == edit[1]), None)
        if event is None:
            return self._send(404, b'{"error": "Comment not found"}', {})
        event["data"]["latest"]["raw"] = body["content"]
        event["data"]["edited"] = True
        self.server.edits += 1
        self._json(200, {"updatedComment": event})

    def _commit(self, repo, data, create_pr):
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        files = {op["value"]["path"]: base64.b64decode(op["value"]["content"])
                 for op in lines if op["key"] == "file"}
        sha = hashlib.sha1(data).hexdigest()
        self.server.commits.append({"repo": repo, "summary": lines[0]["value"]["summary"], "files": files,
                                    "pr": create_pr})
        answer = {"commitUrl": f"{self.server.endpoint}/{repo}/commit/{sha}", "commitOid": sha}
        if create_pr:
            answer["pullRequestUrl"] = f"{self.server.endpoint}/{repo}/discussions/{len(self.server.commits)}"
        else:
            for name, content in files.items():
                (self.server.repos[repo] / name).parent.mkdir(parents=True, exist_ok=True)  # .eval_results/
                (self.server.repos[repo] / name).write_bytes(content)
            self.server.heads[repo] = sha
        self._json(200, answer)

    def _token(self) -> str:
        return (self.headers.get("Authorization") or "").removeprefix("Bearer ")

    def _json(self, status, data):
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


@pytest.fixture
def hub_writes(tmp_path):
    """A running HubWithWrites; yields ``(server, env)``: add ``server.repos[repo_id] = folder``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubWithWrites)
    server.repos, server.discussions, server.commits, server.posts = {}, {}, [], []
    server.heads, server.shas, server.pr_refs, server.edits, server.hidden = {}, {}, {}, 0, []
    server.accounts, server.whoami_calls = {HF_TOKEN: BOT_ACCOUNT}, 0
    server.endpoint = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # As test_hub.py's ``hub`` fixture, but with a token that huggingface_hub sends on its own.
    env = {"HF_ENDPOINT": server.endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
           "HF_HUB_DOWNLOAD_TIMEOUT": "5", "HF_TOKEN": HF_TOKEN, "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0"}
    try:
        yield server, env
    finally:
        server.shutdown()
        server.server_close()
