"""Batch helpers shared by scoring and decoding: padding, the start a batch shares, and KV cache rows."""

from __future__ import annotations

import copy

import torch


def pad_batch(sequences: list[list[int]], pad_id: int, *, left: bool):
    """Token ids and attention mask for a batch, padded on the left or the right."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            span = slice(width - len(seq), width) if left else slice(0, len(seq))
            ids[row, span] = torch.tensor(seq)
            mask[row, span] = 1
    return ids, mask


def common_start(sequences: list[list[int]]) -> int:
    """How many leading tokens all sequences share, leaving each at least one token of its own.

    >>> common_start([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    """
    limit = min(len(s) for s in sequences) - 1
    n = 0
    while n < limit and all(s[n] == sequences[0][n] for s in sequences):
        n += 1
    return n


def cache_rows(cache, rows: torch.Tensor):
    """A new KV cache holding ``rows`` of ``cache`` (repeats allowed); ``cache`` itself stays as it was.

    Selecting and extending a transformers cache layer replaces its tensors rather
    than writing into them, so shallow copies of the layers are enough.
    """
    picked = copy.copy(cache)
    picked.layers = [copy.copy(layer) for layer in cache.layers]
    picked.batch_select_indices(rows)
    return picked
