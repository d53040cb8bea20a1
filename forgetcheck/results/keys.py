"""Cache keys: what decides a score, hashed.

A result is stored under two hashes: the *model key* (weights fingerprint, adapter
fingerprint or "adapter switched off", dtype, device type, batch budget and
:data:`ENGINE_VERSION`) and the *item key* (the probe settings that decide a score
plus the item's own fields). Any change to either gives a new key, so a stale score
is never reused; bump :data:`ENGINE_VERSION` whenever scoring changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from forgetcheck.suites.suite import Item, Probe

# Bump when a change to scoring, batching or chunking changes any stored number.
# 2: contexts of a batch share their common start, continuations run unpadded in equal-length
#    groups, batches stop at 10% padding; an fp32 LoRA candidate is scored on merged weights.
# 3: a group of continuations is reduced at once on a GPU (the sums' rounding may differ in the last bit;
#    CPU numbers are unchanged, bit for bit).
ENGINE_VERSION = "4"

def model_key(resolved: str, *, adapter: str | None, adapter_disabled: bool, dtype: str, device: str,
              label: str = "", batch_tokens: int | None = None) -> dict:
    """Everything about the model side that decides a score, as a dict with its hash in ``key``.

    ``label`` (the spec as the user typed it) only names the model in ``cache info``.

    The base pass of an adapter comparison runs with the adapter switched off, so
    its key names no adapter, only that one was switched off: the base's cache
    then survives every new adapter.

    ``batch_tokens`` is an explicit ``--batch-tokens`` (None: the device type's
    default budget, which the device field already decides). It is part of the key
    because the budget decides which items share a batch, and batch composition
    moves the last digits of a log-likelihood: a base cached under one budget and a
    candidate scored under another would no longer be computed in the same batches,
    and numeric noise could show up as a fake flip. A new budget costs one fresh
    base pass, never a wrong pairing.
    """
    fields = {"model": resolved, "adapter": None if adapter_disabled else adapter,
              "adapter_disabled": adapter_disabled, "dtype": dtype, "device": device.split(":")[0],
              "engine": ENGINE_VERSION, "batch_tokens": batch_tokens}
    return {**fields, "key": content_hash(fields), "label": label}


# Probe fields that never change a score; every other field (kind, metric, max_tokens,
# stop, match, target_delimiter, and any added later) is part of the item key.
NOT_SCORING = ("name", "items", "source", "info", "chat_template")


def item_key(probe: Probe, item: Item, chat: bool) -> str:
    """Hash of the probe settings that decide this item's score, and the item itself.

    ``chat`` is whether the chat template was applied (the template's text belongs
    to the tokenizer, so to the model key).
    """
    settings = {f.name: getattr(probe, f.name) for f in dataclasses.fields(probe) if f.name not in NOT_SCORING}
    if settings.get("harness") is None:  # added later: only lm-eval probes carry it, older keys stay valid
        settings.pop("harness", None)
    return content_hash([settings, chat, dataclasses.asdict(item)])


def content_hash(value) -> str:
    payload = json.dumps(value, sort_keys=True, ensure_ascii=False, default=list)
    return hashlib.sha256(payload.encode()).hexdigest()
