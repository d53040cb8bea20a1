"""Knowledge lost, or only the answer format?

Much reported forgetting is the model no longer answering in the asked format while
still knowing the answer (Zheng et al. 2025, "Spurious Forgetting", arXiv
2501.13453). The core suite asks some facts twice — as free generation and as
multiple choice — and marks each pair (``pair`` on the item). For every generation
item the candidate forgot whose multiple-choice twin is in the same run, the twin
tells which it is:

* ``knowledge kept``: the candidate still ranks the right choice first, so the fact
  is there and only the way of saying it was lost;
* ``knowledge lost``: it no longer picks the right choice either.

Pure function over the items of a comparison; no model.
"""

from __future__ import annotations

from forgetcheck.comparison import ItemResult

KEPT, LOST = "knowledge kept", "knowledge lost"


def classify_forgotten(items: list[ItemResult]) -> None:
    """Set ``forgetting`` on forgotten items that have a multiple-choice twin in ``items``."""
    # Item ids are unique across a suite, so a pair names its twin directly.
    choice_items = {i.item_id: i for i in items if i.n_options}
    for item in items:
        item.forgetting = None
        if item.flip != "forgotten" or not item.pair or item.n_options:
            continue  # only generation items (no options) are diagnosed from their choice twin
        twin = choice_items.get(item.pair)
        if twin is not None:
            item.forgetting = KEPT if twin.candidate_score >= 0.5 else LOST


def diagnose(items: list[ItemResult], shots: int | None = None) -> str | None:
    """One line on a capability's forgotten answers: twins still ranked first, answers recovered by examples.

    >>> a = [ItemResult("recall", f"r{i}", 1, 0, "forgotten", forgetting="knowledge kept") for i in range(8)]
    >>> b = [ItemResult("recall", f"s{i}", 1, 0, "forgotten", forgetting="knowledge lost") for i in range(2)]
    >>> diagnose(a + b)
    'mostly format: 8 of 10 forgotten answers with a multiple-choice twin are still ranked first there'
    >>> for i in a[:5]: i.recovered = True
    >>> for i in a[5:] + b: i.recovered = False
    >>> diagnose(a + b, shots=3)
    'mostly format: 8 of 10 forgotten answers with a multiple-choice twin are still ranked first there; 5 of 10 recover with 3 examples'
    """
    parts = []
    told = [i for i in items if i.forgetting in (KEPT, LOST)]
    if told:
        kept = sum(i.forgetting == KEPT for i in told)
        share = kept / len(told)
        label = "mostly format" if share >= 2 / 3 else "mostly knowledge" if share <= 1 / 3 else "format and knowledge"
        parts.append(f"{label}: {kept} of {len(told)} forgotten answers with a multiple-choice twin "
                     "are still ranked first there")
    asked = [i for i in items if i.recovered is not None]
    if asked:
        recovered = sum(bool(i.recovered) for i in asked)
        examples = f"{shots} examples" if shots else "a few examples"
        parts.append(f"{recovered} of {len(asked)} recover with {examples}")
    return "; ".join(parts) or None
