"""Tiny real models and suites, built in code: no network, no Hub.

``tiny_base`` is a 2-layer Llama trained for a few seconds to memorise a set of
synthetic facts ("fact 17 is red"), so it has something to forget;
``forgetful_adapter`` is a LoRA adapter trained hard on unrelated text, the way
real fine-tunes forget. Both are saved as safetensors folders, as users have them.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
