"""Opening models for scoring: resolve, choose device and dtype, load lazily, hand out scorers.

Every command that needs a model goes through here: :func:`open_model` for one
model (replay, weight drift, the probe audit), :func:`open_pair` for a base and its
candidate (compare, trajectory, the webhook). Both give back scorers (the seam in
:mod:`forgetcheck.scoring`), never bare weights to call, and both load weights only
when a forward pass first needs them, so a comparison found whole in the cache
loads none.

A PEFT adapter candidate shares one loaded model with its base: the base side runs
it with the adapter switched off, the candidate side on merged weights where merging
is exact (:func:`merge_for_candidate`).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import torch

from forgetcheck.errors import BadInput
from forgetcheck.models import parallel
from forgetcheck.models.loading import (
    attach_adapter, check_device_map, check_loadable, choose_device, choose_dtype, load_tokenizer, load_weights)
from forgetcheck.models.specs import ModelSpec, resolve, same_model_name
from forgetcheck.scoring.hf import HFScorer


@dataclass
class OpenModel:
    """One resolved model, ready to score: its spec, where it runs and its scorer (weights load on first use)."""

    spec: ModelSpec
    device: str
    dtype: torch.dtype
    scorer: HFScorer

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")


def open_model(spec: str | ModelSpec, *, dtype: str = "auto", device: str = "auto", batch_tokens: int | None = None,
               allow_pickle: bool = False, trust_remote_code: bool = False, progress: bool = False,
               label: str = "") -> OpenModel:
    """A full model (not an adapter) as an :class:`OpenModel`; unsafe models are refused before anything loads."""
    spec = spec if isinstance(spec, ModelSpec) else resolve(spec, allow_pickle=allow_pickle)
    if spec.adapter:
        raise BadInput(f"{spec.spec!r} is a PEFT adapter; give the full model it was trained on")
    device_name = choose_device(device)
    torch_dtype = choose_dtype(dtype, device_name)
    tokenizer = load_tokenizer(spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)

    def load():
        return load_weights(spec, dtype=torch_dtype, device=device_name, allow_pickle=allow_pickle,
                            trust_remote_code=trust_remote_code)

    scorer = HFScorer(None, tokenizer, device=device_name, batch_tokens=batch_tokens, progress=progress,
                      label=label, load=load)
    return OpenModel(spec, device_name, torch_dtype, scorer)


@dataclass
class ModelPair:
    """A base and a candidate opened together, scored identically.

    ``base`` and ``candidate`` are their scorers; ``weights`` loads what they need on
    first use and counts it; ``notes`` are warnings worth showing the user.
    """

    base_spec: ModelSpec
    cand_spec: ModelSpec
    device: str
    dtype: torch.dtype
    placement: str | None
    base: HFScorer
    candidate: HFScorer
    weights: "LazyWeights"
    notes: list[str] = field(default_factory=list)
    same_tokenizer: bool = True  # token-level measures (label-free drift) need one vocabulary on both sides

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")

    def free_base(self) -> None:
        """Free the base before the candidate loads (one model in memory at a time); a no-op for adapters."""
        if not self.cand_spec.adapter:
            self.base.model = None


def open_pair(base: str, candidate: str, *, dtype: str = "auto", device: str = "auto", device_map: str | None = None,
              batch_tokens: int | None = None, allow_pickle: bool = False, trust_remote_code: bool = False,
              progress: bool = True, timings: dict | None = None) -> ModelPair:
    """Resolve both sides, check they can be compared, and give each a scorer.

    Tokenizers load now: item keys and prompts need them, and they refuse an unsafe
    model even when nothing else loads. Weights load only when a forward pass needs them.
    """
    timings = timings if timings is not None else {}
    notes: list[str] = []
    base_spec = resolve(base, allow_pickle=allow_pickle)
    cand_spec = resolve(candidate, allow_pickle=allow_pickle)
    if base_spec.adapter:
        raise BadInput(f"base {base!r} is a PEFT adapter; BASE must be a full model (the adapter goes in CANDIDATE)")
    notes += adapter_notes(cand_spec, candidate, base_spec, base)
    device_name = parallel.start(choose_device(device))
    torch_dtype = choose_dtype(dtype, device_name)
    placement = check_device_map(device_map, device_name)
    if device_map and not placement:
        notes.append(f"--device-map {device_map} only spreads a model over GPUs; on {device_name} it is ignored")
    base_tok = load_tokenizer(base_spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    cand_tok, same_tokenizer, tokenizer_notes = candidate_tokenizer(
        cand_spec, base_tok, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    notes += tokenizer_notes
    weights = LazyWeights(base_spec, cand_spec, timings, dtype=torch_dtype, device=device_name,
                          allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, device_map=placement)
    scorer = _scorer_maker(device_name, batch_tokens, progress)

    # The base pass of an adapter comparison runs on the one loaded model with the adapter switched off.
    base_scorer = scorer(base_tok, "base", weights.base, weights.adapter_off if cand_spec.adapter else None)
    cand_scorer = scorer(cand_tok, "candidate", weights.candidate)
    return ModelPair(base_spec, cand_spec, device_name, torch_dtype, placement, base_scorer, cand_scorer, weights,
                     notes, same_tokenizer)


def _scorer_maker(device: str, batch_tokens: int | None, progress: bool) -> Callable:
    """Makes the run's scorers, all on one device with one batch budget; each loads its weights on first use."""
    def scorer(tokenizer, label: str, load: Callable, context=None) -> HFScorer:
        return HFScorer(None, tokenizer, device=device, batch_tokens=batch_tokens, context_manager=context,
                        progress=progress, label=label, load=load)

    return scorer


def adapter_notes(cand_spec: ModelSpec, candidate: str, base_spec: ModelSpec, base: str) -> list[str]:
    """A warning when an adapter names another base than the one given."""
    if cand_spec.adapter and cand_spec.adapter_base and not same_model_name(cand_spec.adapter_base, base_spec):
        return [f"the adapter {candidate!r} was trained on {cand_spec.adapter_base!r}, but BASE is {base!r}; "
                "if that is not the same model, this comparison means little"]
    return []


def candidate_tokenizer(cand_spec: ModelSpec, base_tok, *, allow_pickle: bool, trust_remote_code: bool):
    """The candidate's tokenizer (an adapter's is the base's), whether it equals the base's, and notes."""
    if cand_spec.adapter:
        check_loadable(cand_spec, allow_pickle=allow_pickle, trust_remote_code=False)
        return base_tok, True, []
    cand_tok = load_tokenizer(cand_spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    if cand_tok.get_vocab() == base_tok.get_vocab():
        return cand_tok, True, []
    return cand_tok, False, ["the candidate's tokenizer differs from the base's; scores are comparable only per item "
                             "text, and label-free drift (which compares token by token) is skipped"]


def merge_for_candidate(wrapped, placement: str | None = None) -> bool:
    """Merge a plain LoRA adapter into the base weights for the candidate's passes; True if it did.

    Merges only where :func:`mergeable` says the merge is exact.

    Unmerged, every adapted layer adds two small matmuls to each call; merged, the
    candidate runs as fast as the base. Call it only after the last base pass: a
    forward under ``disable_adapter`` makes PEFT unmerge each layer again (correct,
    but W + ΔW − ΔW leaves the base weights changed in their last bits).
    The adapter stays unmerged, and scores come from PEFT's own layers, for other
    adapter types and LoRA variants (DoRA, aLoRA, ...), quantized weights, weights a
    device map spreads out, weights tied to another parameter (merging would change
    both, e.g. the input embedding with the output head), and any dtype but float32:
    rounding ΔW into half-precision weights can move scores by more than the 1e-4
    that scores are held to.
    """
    if not mergeable(wrapped, placement):
        return False
    wrapped.merge_adapter()
    return True


def mergeable(wrapped, placement: str | None = None) -> bool:
    """Would merging the active adapter be exact? See :func:`merge_for_candidate`."""
    from peft import PeftType
    from peft.tuners.lora import LoraLayer
    from peft.tuners.tuners_utils import BaseTunerLayer

    model = wrapped.base_model.model
    config = wrapped.peft_config[wrapped.active_adapter]
    if (config.peft_type != PeftType.LORA or placement or getattr(model, "hf_device_map", None)
            or getattr(model, "hf_quantizer", None) is not None):
        return False
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    for layer in model.modules():
        if not isinstance(layer, BaseTunerLayer):
            continue
        weight = getattr(layer.get_base_layer(), "weight", None)
        if (not isinstance(layer, LoraLayer) or layer.lora_variant or weight is None
                or weight.dtype != torch.float32 or uses[id(weight)] > 1):
            return False
    return True


class LazyWeights:
    """The weights of a comparison, loaded the first time a forward pass needs them.

    Each scorer is given :meth:`base` or :meth:`candidate` as its loader, so a
    rerun that finds every result cached loads no weights at all, and one with a
    cached base loads only what the candidate's side needs. Loads are counted in
    ``timings["models_loaded"]`` and timed in ``timings["load_s"]``.

    With an adapter, base and candidate share one model, the base with the adapter
    attached: the base side runs it with the adapter switched off
    (:meth:`adapter_off`), the candidate side on merged weights where that is exact
    (:func:`merge_for_candidate`). The merge happens when the candidate first asks,
    which is after every base pass: the base's suite and drift reference come first.
    """

    def __init__(self, base_spec: ModelSpec, cand_spec: ModelSpec, timings: dict, **options):
        self.base_spec, self.cand_spec, self.timings, self.options = base_spec, cand_spec, timings, options
        self.adapted = None
        timings["load_s"] = 0.0
        timings["models_loaded"] = 0

    def base(self):
        return self._adapted() if self.cand_spec.adapter else self._load(self.base_spec)

    def candidate(self):
        if not self.cand_spec.adapter:
            return self._load(self.cand_spec)
        model = self._adapted()
        with self._loading():  # preparing weights, not scoring: out of candidate_s
            merge_for_candidate(model, self.options["device_map"])
        return model

    def adapter_off(self):
        """The context the adapter comparison's base passes run in."""
        return self._adapted().disable_adapter()

    def _adapted(self):
        if self.adapted is None:
            model = self._load(self.base_spec)
            with self._loading():
                self.adapted = attach_adapter(model, self.cand_spec, allow_pickle=self.options["allow_pickle"])
        return self.adapted

    def _load(self, spec: ModelSpec):
        with self._loading():
            model = load_weights(spec, **self.options)
        self.timings["models_loaded"] += 1
        return model

    @contextlib.contextmanager
    def _loading(self):
        """Time a step that prepares weights (load, attach, merge) into ``timings["load_s"]``."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings["load_s"] += time.perf_counter() - t


# --- Several candidates against one base -------------------------------------------------------------------


@dataclass
class CandidateModels:
    """A base and several candidates opened together, each candidate scored exactly as it would be alone.

    ``base`` scores the base once for all of them; ``candidates[k]`` scores candidate k.
    PEFT adapters share one loaded base and are switched to by name; full models load
    one at a time, each freed (:meth:`done_with`) before the next. So at most the base
    with its adapters, or one full model, is in memory. ``notes`` are warnings for
    every candidate, ``candidate_notes[k]`` candidate k's own; ``same_tokenizer[k]``
    whether candidate k shares the base's vocabulary.
    """

    base_spec: ModelSpec
    specs: list[ModelSpec]
    device: str
    dtype: torch.dtype
    placement: str | None
    base: HFScorer
    candidates: list[HFScorer]
    weights: "SharedWeights"
    notes: list[str] = field(default_factory=list)
    candidate_notes: list[list[str]] = field(default_factory=list)
    same_tokenizer: list[bool] = field(default_factory=list)

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")

    @property
    def has_adapters(self) -> bool:
        return any(spec.adapter for spec in self.specs)

    def scoring_order(self) -> list[int]:
        """Adapters first, while the base they share is loaded; then full models one by one."""
        return sorted(range(len(self.specs)), key=lambda k: not self.specs[k].adapter)

    def done_with_base(self) -> None:
        """Free the base once its passes are done, unless adapters still run on it."""
        if not self.has_adapters:
            self.base.model = None

    def done_with(self, k: int) -> None:
        """Candidate k is scored: give back its memory (restore the base under a merged adapter, free a full model)."""
        self.weights.release(k)
        self.candidates[k].model = None
        if self.specs[k].adapter and not self.weights.adapters_left():
            self.base.model = None
            self.weights.adapted = None
        _free_memory()


def open_candidates(base: str, candidates: list[str], *, dtype: str = "auto", device: str = "auto",
                    device_map: str | None = None, batch_tokens: int | None = None, allow_pickle: bool = False,
                    trust_remote_code: bool = False, progress: bool = True,
                    timings: dict | None = None) -> CandidateModels:
    """:func:`open_pair` for several candidates: every spec is resolved and checked before anything is scored.

    With any adapter among the candidates, the base's pass runs on the loaded base with
    every adapter switched off (as for one adapter, so its cached scores are shared with
    single comparisons); otherwise on the plain base.
    """
    timings = timings if timings is not None else {}
    base_spec = resolve(base, allow_pickle=allow_pickle)
    if base_spec.adapter:
        raise BadInput(f"base {base!r} is a PEFT adapter; BASE must be a full model (the adapters go in CANDIDATES)")
    specs = [resolve(candidate, allow_pickle=allow_pickle) for candidate in candidates]
    device_name = parallel.start(choose_device(device))
    torch_dtype = choose_dtype(dtype, device_name)
    placement = check_device_map(device_map, device_name)
    notes = []
    if device_map and not placement:
        notes.append(f"--device-map {device_map} only spreads a model over GPUs; on {device_name} it is ignored")
    base_tok = load_tokenizer(base_spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    tokenizers, same, candidate_notes = [], [], []
    for spec, candidate in zip(specs, candidates):
        tokenizer, same_tokenizer, tokenizer_notes = candidate_tokenizer(
            spec, base_tok, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        tokenizers.append(tokenizer)
        same.append(same_tokenizer)
        candidate_notes.append(adapter_notes(spec, candidate, base_spec, base) + tokenizer_notes)
    weights = SharedWeights(base_spec, specs, timings, dtype=torch_dtype, device=device_name,
                            allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, device_map=placement)
    scorer = _scorer_maker(device_name, batch_tokens, progress)

    base_scorer = scorer(base_tok, "base", weights.base, weights.adapter_off if weights.names else None)
    cand_scorers = [scorer(tokenizer, candidate, weights.loader(k))
                    for k, (tokenizer, candidate) in enumerate(zip(tokenizers, candidates))]
    return CandidateModels(base_spec, specs, device_name, torch_dtype, placement, base_scorer, cand_scorers, weights,
                           notes, candidate_notes, same)


class SharedWeights(LazyWeights):
    """The weights of a several-candidate run, loaded when a forward pass first needs them.

    Adapters are attached to the one loaded base, each under its own name, when its
    candidate first asks, and switched to with ``set_adapter``. An adapter merged for
    its passes (:func:`merge_for_candidate`) is taken out again in :meth:`release` by
    restoring the base weights it changed from a copy kept in CPU memory: unmerging
    alone leaves W + ΔW − ΔW, which differs from W in its last bits, and the next
    candidate must see the very base a single comparison sees. The copy holds only the
    layers that adapter changes, and only while it is merged.
    """

    def __init__(self, base_spec: ModelSpec, specs: list[ModelSpec], timings: dict, **options):
        super().__init__(base_spec, None, timings, **options)
        self.specs = specs
        # PEFT keys modules by adapter name, so the names are plain identifiers, not the user's labels.
        self.names = {k: f"candidate_{k}" for k, spec in enumerate(specs) if spec.adapter}
        self.released: set[int] = set()
        self.saved: list[tuple[torch.nn.Parameter, torch.Tensor]] = []

    def base(self):
        return self._adapter(next(iter(self.names))) if self.names else self._load(self.base_spec)

    def adapter_off(self):
        """The context the base's passes run in: every adapter switched off."""
        return self.base().disable_adapter()

    def loader(self, k: int) -> Callable:
        return lambda: self.candidate_weights(k)

    def candidate_weights(self, k: int):
        if k not in self.names:
            return self._load(self.specs[k])
        self._restore()
        model = self._adapter(k)
        model.set_adapter(self.names[k])
        if mergeable(model, self.options["device_map"]):
            self.saved = _changed_by_merge(model, self.names[k])
            model.merge_adapter()
        return model

    def adapters_left(self) -> bool:
        return bool(set(self.names) - self.released)

    def release(self, k: int) -> None:
        self.released.add(k)
        if k in self.names:
            self._restore()

    def _adapter(self, k: int):
        """The loaded base with candidate k's adapter attached (the base loads with the first adapter asked for)."""
        name = self.names[k]
        if self.adapted is not None and name in self.adapted.peft_config:
            return self.adapted
        model = self.adapted if self.adapted is not None else self._load(self.base_spec)
        with self._loading():
            self.adapted = attach_adapter(model, self.specs[k], allow_pickle=self.options["allow_pickle"],
                                          adapter_name=name)
        return self.adapted

    def _restore(self) -> None:
        """Take a merged adapter out, leaving the base weights exactly as they were loaded."""
        if not self.saved:
            return
        from peft.tuners.tuners_utils import BaseTunerLayer

        for layer in self.adapted.modules():  # only the merged layers: PEFT warns about the others
            if isinstance(layer, BaseTunerLayer) and layer.merged:
                layer.unmerge()
        with torch.no_grad():
            for parameter, original in self.saved:
                parameter.copy_(original)
        self.saved = []


def _changed_by_merge(wrapped, name: str) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
    """The base-layer parameters merging adapter ``name`` changes, each with a copy in CPU memory."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    saved = []
    for layer in wrapped.base_model.model.modules():
        if isinstance(layer, BaseTunerLayer) and any(name in getattr(layer, part, {}) for part in
                                                     ("lora_A", "lora_embedding_A")):
            for parameter in layer.get_base_layer().parameters(recurse=False):
                saved.append((parameter, parameter.detach().to("cpu", copy=True)))
    return saved


def _free_memory() -> None:
    """Return freed model memory: Python's references go at once, the CUDA allocator's cache only when asked."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
