"""Every setting of a comparison, with its default stated once.

``compare()``, the CLI's ``compare`` and ``trajectory`` commands, and the Hub
webhook all take a :class:`CompareOptions`; the click options read their defaults
from it, so a default changed here changes everywhere at once. Judging settings
(``tolerance``, ``confidence``) can also be changed after a run with
``forgetcheck report``, which re-judges a saved report.json.

>>> CompareOptions().tolerance, CompareOptions().confidence
(0.02, 0.95)
>>> CompareOptions(kl_samples=0).with_overrides(dtype="bfloat16").dtype
'bfloat16'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from forgetcheck.analysis.verdicts import check_judging


@dataclass(frozen=True)
class CompareOptions:
    """How a comparison judges, loads models and scores.

    Judging:
    tolerance: the largest drop that still counts as held, absolute (0.02 = 2 points).
    confidence: the confidence level of every interval and test.

    Loading and scoring (both sides always use the same):
    dtype: ``auto`` (bf16 on GPU, float32 on CPU), ``float32``, ``bfloat16``, ``float16``.
    device: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...
    device_map: ``auto`` spreads a model over several GPUs (CUDA only).
    chat_template: None keeps each probe's setting; ``auto``, ``on``, ``off`` override them all.
    batch_tokens: token budget per batch (padded tokens); None takes the device's default.
    allow_pickle: allow .bin/.pt weights (loading them can run code).
    trust_remote_code: allow models that ship their own Python code.
    progress: show progress bars.
    cache: True uses the default result cache, a path another, False none.

    What a comparison measures beyond the suite:
    kl_samples: sequences the base samples for label-free drift (0 turns it off).
    recovery_shots: examples given when forgotten answers are asked again (0 turns it off).
    reference: a text file whose paragraphs become one more perplexity capability.
    files_outside_suite: let the suite read files outside its own folder (a suite from a pull
    request must not; see :mod:`forgetcheck.suites.paths`).
    task_code: let lm-eval tasks that carry Python build their requests through lm-eval
    (``--allow-task-code``; see :mod:`forgetcheck.suites.lm_eval_tasks`).
    audit: measure the probe audit of each capability against the base first when the
    cache holds none (:mod:`forgetcheck.workflows.audit`); a cached audit is read either way.
    """

    tolerance: float = 0.02
    confidence: float = 0.95
    dtype: str = "auto"
    device: str = "auto"
    device_map: str | None = None
    chat_template: str | None = None
    batch_tokens: int | None = None
    allow_pickle: bool = False
    trust_remote_code: bool = False
    progress: bool = True
    cache: object = True
    kl_samples: int = 64
    recovery_shots: int = 3
    reference: str | None = None
    files_outside_suite: bool = False
    task_code: bool = False
    audit: bool = False

    def __post_init__(self) -> None:
        # Checked before anything is scored: a bad threshold should not cost a whole run.
        check_judging(self.tolerance, self.confidence)

    def with_overrides(self, **changes) -> CompareOptions:
        """A copy with ``changes`` applied; a name that is not an option is refused in one line."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown comparison option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


DEFAULTS = CompareOptions()
