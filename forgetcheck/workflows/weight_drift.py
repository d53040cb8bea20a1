"""Inside the weights: which layers did the fine-tune move, and did they matter to the base?

Two numbers per weight matrix, no probes needed:

* **relative change** ‖ΔW‖_F / ‖W‖_F — how far the matrix moved. For a LoRA adapter
  ΔW = s·B·A, and ‖B·A‖_F² = trace((BᵀB)(A·Aᵀ)) is computed from the r×r products
  without building the full matrix.
* **Fisher-weighted change** Σ F_i·ΔW_i² — the elastic-weight-consolidation penalty
  (Kirkpatrick et al. 2017): a change counts in proportion to how much the base's
  own predictions depend on that weight. The diagonal Fisher F is estimated on
  sequences the base samples itself (``forgetcheck.workflows.label_free``), so no dataset is
  needed: per sequence, the squared gradient of the log-likelihood of the sampled
  tokens.

What it means and what it does not: a layer with a large Fisher-weighted change is
where forgetting is most likely to come from, and where to look or regularise first.
It is a risk, not a proof — a large change can be harmless and probes decide whether
anything was forgotten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

MATRIX = re.compile(r"(?:^|\.)layers\.(\d+)\.(?:.*\.)?([^.]+)$")


@dataclass
class MatrixDrift:
    """One weight matrix: where it sits, how big it is and how far it moved."""

    name: str
    layer: str
    module: str
    params: int
    weight_norm: float
    change_norm: float
    fisher_change: float | None = None

    @property
    def relative_change(self) -> float:
        return self.change_norm / self.weight_norm if self.weight_norm else 0.0


def locate(name: str) -> tuple[str, str]:
    """(layer, module type) of a module name: ``model.layers.3.self_attn.q_proj`` → ("3", "q_proj").

    >>> locate("base_model.model.model.layers.11.mlp.down_proj")
    ('11', 'down_proj')
    >>> locate("model.embed_tokens")
    ('—', 'embed_tokens')
    """
    match = MATRIX.search(name)
    if match:
        return match.group(1), match.group(2)
    return "—", name.rsplit(".", 1)[-1]


@torch.no_grad()
def adapter_drift(peft_model, fisher: dict[str, torch.Tensor] | None = None) -> list[MatrixDrift]:
    """Per LoRA-adapted matrix: ‖s·B·A‖_F against ‖W‖_F, and the Fisher-weighted change if given."""
    rows = []
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or not hasattr(module, "base_layer"):
            continue
        for adapter in module.active_adapters:
            if adapter not in module.lora_A:
                continue
            a = module.lora_A[adapter].weight.float()  # r × in
            b = module.lora_B[adapter].weight.float()  # out × r
            scale = float(module.scaling[adapter])
            weight = module.base_layer.weight.float()
            # ‖BA‖² = tr((BᵀB)(AAᵀ)): r×r products instead of an out×in matrix.
            squared = torch.trace((b.T @ b) @ (a @ a.T)).clamp(min=0)
            clean = name.removeprefix("base_model.model.")  # the name as in the base model, without peft's wrapper
            layer, kind = locate(clean)
            fisher_change = None
            if fisher is not None and clean + ".weight" in fisher:
                fisher_change = float((fisher[clean + ".weight"] * (scale * (b @ a)) ** 2).sum())
            rows.append(MatrixDrift(clean, layer, kind, weight.numel(), float(weight.norm()),
                                    scale * float(squared.sqrt()), fisher_change))
    return rows


@torch.no_grad()
def full_drift(base_model, candidate_model, fisher: dict[str, torch.Tensor] | None = None) -> list[MatrixDrift]:
    """Per weight matrix of two full models with the same architecture."""
    candidate = dict(candidate_model.named_parameters())
    rows = []
    for name, weight in base_model.named_parameters():
        if weight.dim() != 2 or name not in candidate:
            continue
        delta = candidate[name].float() - weight.float()
        module = name[: -len(".weight")] if name.endswith(".weight") else name
        layer, kind = locate(module)
        fisher_change = float((fisher[name] * delta ** 2).sum()) if fisher is not None and name in fisher else None
        rows.append(MatrixDrift(module, layer, kind, weight.numel(), float(weight.float().norm()),
                                float(delta.norm()), fisher_change))
    return rows


def diagonal_fisher(model, sequences: list[tuple[list[int], list[int]]], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Diagonal Fisher of the 2-D weights, from (prompt ids, sampled ids) pairs the model generated itself.

    Because the tokens are the model's own samples, the squared gradient of their
    log-likelihood estimates the true Fisher (not the "empirical" one on fixed labels).
    """
    params = {n: p for n, p in model.named_parameters() if p.dim() == 2}
    flags = {n: p.requires_grad for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(True)
    fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    try:
        for prompt, sample in sequences:
            ids = torch.tensor([prompt + sample], device=device)
            logits = model(input_ids=ids).logits[0, len(prompt) - 1: len(prompt) - 1 + len(sample)]
            target = torch.tensor(sample, device=device)
            loglik = torch.log_softmax(logits.float(), -1).gather(-1, target[:, None]).sum()
            model.zero_grad(set_to_none=True)
            loglik.backward()
            for n, p in params.items():
                if p.grad is not None:
                    fisher[n] += p.grad.float() ** 2
        for n in fisher:
            fisher[n] /= max(len(sequences), 1)
    finally:
        model.zero_grad(set_to_none=True)
        for n, p in params.items():
            p.requires_grad_(flags[n])
    return fisher


def by_group(rows: list[MatrixDrift], key: str) -> list[dict]:
    """Roll matrices up per ``layer`` or per ``module`` type: combined relative change and summed Fisher change."""
    groups: dict[str, list[MatrixDrift]] = {}
    for row in rows:
        groups.setdefault(getattr(row, key), []).append(row)
    out = []
    for name, members in groups.items():
        weight = sum(r.weight_norm ** 2 for r in members) ** 0.5
        change = sum(r.change_norm ** 2 for r in members) ** 0.5
        fisher = [r.fisher_change for r in members if r.fisher_change is not None]
        out.append({key: name, "matrices": len(members), "params": sum(r.params for r in members),
                    "relative_change": change / weight if weight else 0.0,
                    "fisher_change": sum(fisher) if fisher else None})
    return sorted(out, key=lambda g: -(g["fisher_change"] if g["fisher_change"] is not None else g["relative_change"]))


def ranked(rows: list[MatrixDrift]) -> list[MatrixDrift]:
    """Matrices by Fisher-weighted change (the risk to old skills), else by relative change."""
    return sorted(rows, key=lambda r: -(r.fisher_change if r.fisher_change is not None else r.relative_change))


def measure(base: str, candidate: str, *, fisher_samples: int = 16, seed: int = 0, dtype: str = "float32",
            device: str = "auto", allow_pickle: bool = False, trust_remote_code: bool = False) -> dict:
    """``forgetcheck drift`` as a library call: the per-matrix, per-layer and per-module drift as plain data."""
    from forgetcheck.version import __version__
    from forgetcheck.errors import BadInput
    from forgetcheck.models.loading import attach_adapter, load_weights
    from forgetcheck.models.specs import resolve
    from forgetcheck.models.weights import open_model
    from forgetcheck.suites.asking import render_prompt
    from forgetcheck.suites.suite import Suite
    from forgetcheck.workflows.label_free import drift_prompts, sample_from_base

    base_spec = resolve(base, allow_pickle=allow_pickle)
    cand_spec = resolve(candidate, allow_pickle=allow_pickle)
    if base_spec.adapter:
        raise BadInput(f"base {base!r} is a PEFT adapter; BASE must be a full model (the adapter goes in CANDIDATE)")
    opened = open_model(base_spec, dtype=dtype, device=device, allow_pickle=allow_pickle,
                        trust_remote_code=trust_remote_code)
    scorer, device_name, torch_dtype = opened.scorer, opened.device, opened.dtype
    # Weight drift reads the weights themselves (norms, gradients), so it holds the model, not only the scorer.
    model = scorer.model
    fisher = None
    if fisher_samples > 0:
        def render(probe, text):
            return render_prompt(text, scorer.has_chat_template, scorer)

        prompts = drift_prompts(Suite("none", []), render, fisher_samples, seed)  # no suite: neutral openers only
        samples = sample_from_base(scorer, prompts, seed=seed)
        fisher = diagonal_fisher(model, list(zip(samples.prompt_ids, samples.sample_ids)), device=device_name)
    if cand_spec.adapter:
        rows = adapter_drift(attach_adapter(model, cand_spec, allow_pickle=allow_pickle), fisher)
    else:
        cand_model = load_weights(cand_spec, dtype=torch_dtype, device=device_name, allow_pickle=allow_pickle,
                                  trust_remote_code=trust_remote_code)
        rows = full_drift(model, cand_model, fisher)
    if not rows:
        raise BadInput(f"{candidate!r}: no weight matrix in common with the base, so there is no drift to measure")
    ordered = ranked(rows)
    return {
        "base": {"spec": base, "resolved": base_spec.resolved},
        "candidate": {"spec": candidate, "resolved": cand_spec.resolved, "adapter": cand_spec.adapter},
        "settings": {"fisher_samples": fisher_samples, "seed": seed, "dtype": str(torch_dtype).replace("torch.", ""),
                     "device": device_name},
        "matrices": [{"name": r.name, "layer": r.layer, "module": r.module, "params": r.params,
                      "relative_change": r.relative_change, "fisher_change": r.fisher_change} for r in ordered],
        "layers": by_group(rows, "layer"),
        "modules": by_group(rows, "module"),
        "forgetcheck_version": __version__,
    }
