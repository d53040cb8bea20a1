"""Token-by-token decoding for generate probes and drift sampling, with two savings over ``model.generate``.

* **A finished row leaves the batch.** ``model.generate`` keeps computing every row until the
  last one ends; on core-quick a third of its decoding steps went to rows that had already
  stopped. Here a row that reached end of text or a stop string is dropped from the batch
  and its KV cache, so each step costs only the rows still writing.
* **The start the prompts share is computed once.** A chat template's system turn is about
  half of a short prompt's tokens; it is encoded for one row and its cache copied to the rest.

The numbers are those ``model.generate`` computes (the same positions, mask and cache), up
to the last bits of a float that a different batch shape gives: on core-quick's 193 generate
prompts, SmolLM2-135M-Instruct and the demo adapter gave the same greedy answers both ways,
in 1.6x and 1.45x less CPU time (tests/test_decoding.py checks the same on a tiny model).
A model whose generation config asks for more than plain greedy or plain sampling (a
repetition penalty, banned words and so on) keeps ``model.generate``: see :func:`plain_decoding`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from forgetcheck.scoring.batching import cache_rows, common_start, pad_batch

# Generation-config fields that change which token comes next, and the values that leave it alone.
# A model that sets any of them otherwise is decoded by model.generate, which applies them.
_NEUTRAL = {
    "repetition_penalty": (None, 1.0), "no_repeat_ngram_size": (None, 0), "encoder_repetition_penalty": (None, 1.0),
    "bad_words_ids": (None,), "suppress_tokens": (None,), "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,), "forced_eos_token_id": (None,), "sequence_bias": (None,),
    "min_length": (None, 0), "min_new_tokens": (None, 0), "exponential_decay_length_penalty": (None,),
    "renormalize_logits": (None, False), "watermarking_config": (None,), "guidance_scale": (None, 1.0),
}


def plain_decoding(model) -> bool:
    """Whether greedy or plain sampling here decodes as ``model.generate`` would for this model."""
    config = getattr(model, "generation_config", None)
    if config is None or not hasattr(model, "forward"):
        return False
    return all(getattr(config, name, None) in neutral for name, neutral in _NEUTRAL.items())


def end_of_text_ids(model, tokenizer) -> set[int]:
    """The tokens that end a row: the generation config's end-of-text ids, or the tokenizer's."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    return set(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids])


@torch.no_grad()
def decode(model, contexts: Sequence[list[int]], *, max_new_tokens: int, pick: Callable[[torch.Tensor], torch.Tensor],
           finished: Callable[[int, list[int]], bool], pad_id: int, device: str, cache_arg: str) -> list[list[int]]:
    """The tokens generated after each context, up to and including the one that finished it.

    ``pick`` turns the last position's logits (rows × vocabulary) into one token per row;
    ``finished(i, tokens)`` says whether context ``i`` is done after ``tokens``. A row also
    ends after ``max_new_tokens``.
    """
    n = len(contexts)
    shared = common_start(list(contexts)) if n > 1 else 0
    cache = None
    if shared:
        start = torch.tensor([contexts[0][:shared]], device=device)
        cache = cache_rows(getattr(model(input_ids=start, use_cache=True), cache_arg),
                           torch.zeros(n, dtype=torch.long, device=device))
    ids, mask = pad_batch([list(c[shared:]) for c in contexts], pad_id, left=True)
    mask = torch.cat([torch.ones(n, shared, dtype=torch.long), mask], dim=1)
    # Explicit positions: the left padding between the shared start and each prompt's own tokens
    # must not shift where those tokens sit.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions[:, shared:].to(device),
                use_cache=True, logits_to_keep=1, **{cache_arg: cache})
    cache, logits = getattr(out, cache_arg), out.logits[:, -1]
    mask, next_position = mask.to(device), positions[:, -1].to(device) + 1
    generated: list[list[int]] = [[] for _ in range(n)]
    alive = list(range(n))  # which context each row of the batch is
    writing = [True] * n  # a row stays in the batch, not writing, only where its cache cannot drop rows
    can_drop = hasattr(cache, "batch_select_indices")
    for step in range(max_new_tokens):
        tokens = pick(logits)
        for row, (i, token) in enumerate(zip(alive, tokens.tolist())):
            if writing[row]:
                generated[i].append(token)
                writing[row] = not finished(i, generated[i])
        if not any(writing) or step == max_new_tokens - 1:
            break
        if can_drop and not all(writing):
            keep = [row for row, w in enumerate(writing) if w]
            rows = torch.tensor(keep, device=device)
            cache.batch_select_indices(rows)
            mask, next_position, tokens = mask[rows], next_position[rows], tokens[rows]
            alive, writing = [alive[row] for row in keep], [True] * len(keep)
        mask = torch.cat([mask, torch.ones(len(mask), 1, dtype=mask.dtype, device=device)], dim=1)
        out = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=next_position[:, None],
                    use_cache=True, **{cache_arg: cache})
        cache, logits, next_position = getattr(out, cache_arg), out.logits[:, -1], next_position + 1
    return generated
