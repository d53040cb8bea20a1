"""``forgetcheck drift``: weight drift from LoRA factors equals the merged update; Fisher weighting is sane."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.models.loading import attach_adapter, load_model
from forgetcheck.models.specs import resolve
from forgetcheck.workflows.weight_drift import adapter_drift, by_group, diagonal_fisher, full_drift


def test_adapter_drift_from_factors_equals_the_merged_update(tiny_base, forgetful_adapter, merged_candidate):
    base, _ = load_model(resolve(str(tiny_base)), dtype=torch.float32, device="cpu")
    merged, _ = load_model(resolve(str(merged_candidate)), dtype=torch.float32, device="cpu")
    full = {r.name: r for r in full_drift(base, merged)}
    wrapped = attach_adapter(load_model(resolve(str(tiny_base)), dtype=torch.float32, device="cpu")[0],
                             resolve(str(forgetful_adapter)))
    lora = adapter_drift(wrapped)
    assert len(lora) == 14  # 7 linear modules per layer x 2 layers ("all-linear")
    for row in lora:
        assert row.relative_change > 0
        assert row.relative_change == pytest.approx(full[row.name].relative_change, rel=1e-4, abs=1e-7)
    untouched = [r for name, r in full.items() if name not in {x.name for x in lora}]
    assert untouched and all(r.change_norm < 1e-6 for r in untouched)  # embeddings, lm_head


def test_fisher_weighting(tiny_base, forgetful_adapter):
    base, tokenizer = load_model(resolve(str(tiny_base)), dtype=torch.float32, device="cpu")
    ids = tokenizer("fact 3 is")["input_ids"]
    sample = tokenizer(" green", add_special_tokens=False)["input_ids"]
    base.model.layers[1].mlp.down_proj.weight.requires_grad_(False)
    flags = {n: q.requires_grad for n, q in base.named_parameters()}
    fisher = diagonal_fisher(base, [(ids, sample)])
    assert flags == {n: q.requires_grad for n, q in base.named_parameters()}  # left as it was found
    # One sequence: the Fisher is exactly the squared gradient of its log-likelihood.
    base.zero_grad()
    logits = base(input_ids=torch.tensor([ids + sample])).logits[0, len(ids) - 1:len(ids) - 1 + len(sample)]
    torch.log_softmax(logits, -1).gather(-1, torch.tensor(sample)[:, None]).sum().backward()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.allclose(fisher[name], dict(base.named_parameters())[name].grad ** 2)
    same = full_drift(base, base, fisher)
    assert all(r.fisher_change == 0 and r.change_norm == 0 for r in same)
    rows = adapter_drift(attach_adapter(base, resolve(str(forgetful_adapter))), fisher)
    assert all(r.fisher_change is not None and r.fisher_change >= 0 for r in rows)
    assert sum(r.fisher_change for r in rows) > 0
    layers = by_group(rows, "layer")
    assert {g["layer"] for g in layers} == {"0", "1"} and all(g["matrices"] == 7 for g in layers)


def test_drift_command_writes_report_chart_and_data(tiny_base, forgetful_adapter, tmp_path):
    out = tmp_path / "drift"
    result = CliRunner().invoke(main, ["drift", str(tiny_base), str(forgetful_adapter), "--fisher-samples", "3",
                                       "--out", str(out), "--top", "5"])
    assert result.exit_code == 0, result.output
    assert "layers most at risk:" in result.output
    assert any(line.split()[:3] == ["matrix", "layer", "module"] for line in result.stdout.splitlines())
    data = json.loads((out / "drift.json").read_text())
    assert len(data["matrices"]) == 14 and data["settings"]["fisher_samples"] == 3
    fisher = [m["fisher_change"] for m in data["matrices"]]
    assert fisher == sorted(fisher, reverse=True)  # ranked by risk
    assert "risk, not a proof" in (out / "drift.md").read_text()
    assert (out / "drift.png").read_bytes().startswith(b"\x89PNG")


def test_drift_with_an_adapter_as_base_is_one_line(tiny_base, forgetful_adapter):
    result = CliRunner().invoke(main, ["drift", str(forgetful_adapter), str(tiny_base)])
    assert result.exit_code == 2 and "BASE must be a full model" in result.output
