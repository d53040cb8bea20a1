"""The transformers backend of the scorer seam.

Requests are sorted by length (longest first, ties by position) and cut into
batches bounded by a token budget, so padding stays small and — because the
batching depends only on the request list — base and candidate are computed in
exactly the same batches. On a GPU out-of-memory the budget halves and the batch
is retried instead of failing the run.

Multiple-choice items share work twice: a context is encoded once for all its
choices, and the contexts of one batch encode the prompt they all start with
(a chat template's system turn, a shared instruction) once. The continuations
then run in groups of equal length, so no continuation token is padding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Callable, Sequence

import torch
from jinja2.exceptions import SecurityError, TemplateError
from tqdm.auto import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.modeling_outputs import CausalLMOutputWithPast

from forgetcheck.errors import BadInput
from forgetcheck.models import parallel
from forgetcheck.scoring import decoding
from forgetcheck.scoring.batching import cache_rows, common_start, pad_batch
from forgetcheck.scoring.seam import GenerationRequest, LoglikelihoodResult, Sample, TokenLogprobs

DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 32768}
# A log-likelihood batch ends before padding would pass this share of the tokens it computes.
# Generation is exempt: its decoding steps run once per batch, so fewer, wider batches are faster.
MAX_PADDING = 0.1
# transformers 5 renamed the KV cache argument and output from past_key_values to cache; the old name
# still works there but logs a deprecation notice on every run, so use whichever this version has.
_CACHE = "cache" if "cache" in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)} else "past_key_values"
# Sequences per batch when sampling and when scoring token by token: fixed, so the samples and
# their log-probs depend only on the request list. Sampling decodes one token per step for the whole
# batch, so a wider batch pays the per-step cost fewer times: drawing 64 samples took 58.6 CPU-s 8 at a
# time and 32.1 CPU-s 32 at a time (SmolLM2-135M, 48 tokens each). Scoring is one forward pass per batch.
SAMPLE_BATCH = 32
LOGPROB_BATCH = 8


class HFScorer:
    """Scores requests with a loaded transformers (or peft) causal LM.

    ``context_manager`` wraps every forward pass; the base pass of an adapter
    comparison uses ``model.disable_adapter`` so both sides share one loaded model.
    ``load``, given instead of a model, loads it the first time :attr:`model` is
    asked for, i.e. when a forward pass needs it: a comparison whose results are
    all cached renders prompts and item keys with the tokenizer alone.
    """

    # The runner may score two chunks of a suite at once on it (forgetcheck.models.parallel.in_threads).
    thread_safe = True

    def __init__(self, model, tokenizer, *, device: str = "cpu", batch_tokens: int | None = None,
                 context_manager: Callable[[], contextlib.AbstractContextManager] | None = None,
                 progress: bool = True, label: str = "", load: Callable[[], object] | None = None):
        self._model = model
        self._load = load
        self.tokenizer = tokenizer
        self.device = device
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_TOKENS["cuda" if device.startswith("cuda") else "cpu"]
        self.context_manager = context_manager or contextlib.nullcontext
        self.progress = progress
        self.label = label
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.pad_id = tokenizer.pad_token_id or 0
        self.start_token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        # Token positions the model computed, and those of them that were not padding.
        self.padded_tokens = 0
        self.real_tokens = 0
        # The runner may score two chunks at once in two threads (see thread_safe): the weights load once,
        # the context (an adapter switched off) stays entered while either thread is inside it, and each
        # thread reports into its own chunk's bar.
        self._lock = threading.RLock()
        self._inside = 0
        self._entered: contextlib.AbstractContextManager | None = None
        self._local = threading.local()

    @property
    def model(self):
        """The model; loaded now if the scorer was given ``load`` and this is the first ask."""
        if self._model is None and self._load is not None:
            with self._lock:
                if self._model is None and self._load is not None:
                    self._model, self._load = self._load(), None
        return self._model

    @model.setter
    def model(self, model) -> None:
        # Setting None frees the model for good: the loader goes too, so nothing loads it again.
        self._model, self._load = model, None

    @property
    def max_length(self) -> int:
        """The model's context length; only scoring asks, and scoring needs the model anyway."""
        config = getattr(self.model, "config", None)
        return int(getattr(config, "max_position_embeddings", 2048) or 2048)

    # -- prompt rendering ---------------------------------------------------
    def chat_prompt(self, user_text: str) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True)
        except SecurityError as exc:
            # transformers renders chat templates in a Jinja sandbox; a template that tries to escape it
            # is refused, and the run must say so rather than crash.
            raise BadInput(f"{self.label or 'model'}: its chat template tried something the sandbox forbids "
                           f"({exc}); run with --chat-template off, or fix the template") from None
        except TemplateError as exc:
            raise BadInput(f"{self.label or 'model'}: its chat template does not render ({exc}); "
                           "run with --chat-template off, or fix the template") from None

    def encode_context(self, context: str) -> list[int]:
        bos = self.tokenizer.bos_token
        add_special = not (bos and context.startswith(bos))
        return self.tokenizer(context, add_special_tokens=add_special)["input_ids"]

    def encode_continuation(self, continuation: str) -> list[int]:
        return self.tokenizer(continuation, add_special_tokens=False)["input_ids"]

    # -- the three request kinds ---------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]], desc: str = "") -> list[LoglikelihoodResult]:
        # Requests sharing a context (the choices of one item) encode it once and
        # score every continuation from its KV cache; the rest go one by one.
        contexts: dict[str, list[int]] = {}
        for i, (context, _) in enumerate(requests):
            contexts.setdefault(context, []).append(i)
        encoded = {c: self.encode_context(c) for c in contexts}
        continuations = [self.encode_continuation(x) for _, x in requests]
        results: list[LoglikelihoodResult | None] = [None] * len(requests)
        shared, single, limit = [], [], self.max_length
        for context, members in contexts.items():
            fits = len(encoded[context]) + max(len(continuations[i]) for i in members) <= limit
            if len(members) > 1 and fits and encoded[context]:
                shared.append((encoded[context], members))
            else:
                single.extend(members)
        if single:
            scored = self._score_tokens([(encoded[requests[i][0]], continuations[i]) for i in single], desc)
            for i, r in zip(single, scored):
                results[i] = r
        if shared:
            self._score_shared(shared, continuations, results, desc)
        return results  # type: ignore[return-value]

    def _score_shared(self, groups, continuations, results, desc: str) -> None:
        # Longest context first, so the contexts of a batch need little left padding; the
        # continuations add their own tokens, never padded (see _forward_shared).
        order = sorted(range(len(groups)), key=lambda k: (-len(groups[k][0]), k))
        with self._progress(sum(len(g[1]) for g in groups), desc) as bar:
            for batch in self._batches(order, lambda k: len(groups[k][0]), max_padding=MAX_PADDING,
                                       unpadded=lambda k: sum(len(continuations[i]) - 1 for i in groups[k][1])):
                scored = self._retry_on_oom(
                    lambda b: self._forward_shared([groups[k] for k in b], continuations), batch)
                for k, group_results in zip(batch, scored):
                    members = groups[k][1]
                    for i, r in zip(members, group_results):
                        results[i] = r
                    bar.update(len(members))

    def rolling_loglikelihood(self, texts: Sequence[str], desc: str = "") -> list[LoglikelihoodResult]:
        # Texts longer than the model's context are scored in windows; each later
        # window predicts half a context of new tokens given the tokens before them.
        windows: list[tuple[list[int], list[int]]] = []
        owners: list[int] = []
        size = self.max_length - 1
        for i, text in enumerate(texts):
            tokens = self.encode_continuation(text)
            windows.append(([self.start_token], tokens[:size]))
            owners.append(i)
            pos = size
            while pos < len(tokens):
                end = min(pos + size // 2, len(tokens))
                windows.append((tokens[end - size:pos], tokens[pos:end]))
                owners.append(i)
                pos = end
        scored = self._score_tokens(windows, desc)
        totals = [[0.0, 0, True] for _ in texts]
        for owner, result in zip(owners, scored):
            totals[owner][0] += result.logprob
            totals[owner][1] += result.n_tokens
            totals[owner][2] = totals[owner][2] and result.is_greedy
        return [LoglikelihoodResult(lp, n, g) for lp, n, g in totals]

    def generate(self, requests: Sequence[GenerationRequest], desc: str = "") -> list[str]:
        encoded = [self.encode_context(r.context) for r in requests]
        if any(len(e) + r.max_tokens > self.max_length for e, r in zip(encoded, requests)):
            # A context longer than the model can see keeps its end, as the log-likelihood requests do:
            # the question sits at the end of a prompt, and the answer's room must fit too.
            encoded = [e[-max(1, self.max_length - r.max_tokens):] for e, r in zip(encoded, requests)]
        order = sorted(range(len(requests)), key=lambda i: (-len(encoded[i]), requests[i].max_tokens, i))
        outputs: list[str] = [""] * len(requests)
        with self._progress(len(requests), desc) as bar:
            for batch in self._batches(order, lambda i: len(encoded[i]) + requests[i].max_tokens,
                                       same=lambda i: (requests[i].max_tokens, requests[i].stop)):
                texts = self._retry_on_oom(lambda b: self._generate_batch([encoded[i] for i in b], [requests[i] for i in b]),
                                           batch)
                for i, text in zip(batch, texts):
                    outputs[i] = text
                bar.update(len(batch))
        return outputs

    @torch.no_grad()
    def sample(self, contexts: Sequence[str], *, seed: int, max_tokens: int, temperature: float = 1.0,
               desc: str = "") -> list[Sample]:
        encoded = [self.encode_context(text) for text in contexts]
        torch.manual_seed(seed)
        sampled: list[list[int]] = []
        with self._progress(len(encoded), desc) as bar:
            for start in range(0, len(encoded), SAMPLE_BATCH):
                batch = encoded[start:start + SAMPLE_BATCH]
                with self._in_context():
                    sampled.extend(self._sample_batch(batch, max_tokens, temperature))
                bar.update(len(batch))
        texts = self.tokenizer.batch_decode(sampled, skip_special_tokens=True)
        return [Sample(c, s, t) for c, s, t in zip(encoded, sampled, texts)]

    @torch.no_grad()
    def token_logprobs(self, sequences: Sequence[tuple[list[int], list[int]]], *, top_k: int = 0,
                       at=None, desc: str = "", batch_size: int = LOGPROB_BATCH) -> list[TokenLogprobs]:
        def score(start: int) -> list[TokenLogprobs]:
            batch = sequences[start:start + batch_size]
            ids, mask = self._pad([list(c) + list(x) for c, x in batch], left=False)  # positions 0..n-1
            with self._in_context():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            out = []
            for row, (context, continuation) in enumerate(batch):
                # Position t predicts token t+1: the continuation is predicted from len(context)-1 on.
                lp = logprobs[row, len(context) - 1: len(context) - 1 + len(continuation)]
                target = torch.tensor(list(continuation), device=lp.device)[:, None]
                tokens = lp.gather(-1, target)[:, 0].cpu()
                top_ids = top_lps = at_lps = None
                if top_k:
                    top_lps, top_ids = (t.cpu() for t in lp.topk(min(top_k, lp.shape[-1]), dim=-1))
                if at is not None:
                    at_lps = lp.cpu().gather(-1, at[start + row])
                out.append(TokenLogprobs(tokens, top_ids, top_lps, at_lps))
            return out

        # Batches are independent, so on a CPU two run side by side (forgetcheck.models.parallel.in_threads).
        scored: dict[int, list[TokenLogprobs]] = {}
        starts = list(range(0, len(sequences), batch_size))
        with self._progress(len(sequences), desc) as bar:
            for start, batch_results in parallel.in_threads(starts, score, parallel.cpu_workers(self.device)):
                scored[start] = batch_results
                bar.update(len(batch_results))
        return [result for start in starts for result in scored[start]]

    # -- batching -------------------------------------------------------------
    def _batches(self, order: list[int], length: Callable[[int], int], same=lambda i: None,
                 unpadded=lambda i: 0, max_padding: float = 1.0):
        """Consecutive runs of ``order`` (longest first) that fit the token budget.

        A batch computes ``longest length × rows`` padded tokens plus each entry's
        ``unpadded`` tokens; it ends before that passes the budget, before its
        padding passes ``max_padding`` of it, or where ``same`` changes.
        """
        batch: list[int] = []
        longest = real = extra = 0
        for i in order:
            n, more = length(i), unpadded(i)
            width = max(longest, n) * (len(batch) + 1)
            computed = width + extra + more
            padding = width - real - n
            full = computed > self.batch_tokens or padding > max_padding * computed
            if batch and (full or same(i) != same(batch[0])):
                yield batch
                batch, longest, real, extra = [], 0, 0, 0
            batch.append(i)
            longest, real, extra = max(longest, n), real + n, extra + more
        if batch:
            yield batch

    def _retry_on_oom(self, run, batch: list[int]):
        try:
            return run(batch)
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            torch.cuda.empty_cache()
            self.batch_tokens = max(1, self.batch_tokens // 2)
            half = len(batch) // 2
            return self._retry_on_oom(run, batch[:half]) + self._retry_on_oom(run, batch[half:])

    def progress_bar(self, total: int, desc: str, unit: str = "item"):
        """A bar for ``total`` units of work, labelled with this scorer's side; hidden without progress."""
        return tqdm(total=total, desc=f"{self.label} {desc}".strip(), unit=unit, disable=not self.progress,
                    leave=False, dynamic_ncols=True)

    @contextlib.contextmanager
    def reporting_to(self, bar, items: int):
        """Scoring inside this block advances ``bar`` by ``items`` in all, instead of a bar of its own.

        The runner scores a capability chunk by chunk; one bar per capability across its
        chunks gives an honest ETA, where a fresh bar per chunk restarted every 128 items.
        """
        self._local.outer_bar = (bar, items)
        try:
            yield
        finally:
            self._local.outer_bar = None

    def _progress(self, total: int, desc: str):
        outer = getattr(self._local, "outer_bar", None)
        if outer is not None:
            return _ShareOfBar(*outer, requests=total)
        return self.progress_bar(total, desc, unit="req")

    def _score_tokens(self, pairs: list[tuple[list[int], list[int]]], desc: str) -> list[LoglikelihoodResult]:
        # Keep at most max_length tokens, dropping from the left of the context.
        limit = self.max_length
        pairs = [((c + x)[-(limit + 1):-len(x)] if x else c[-limit:], x) for c, x in pairs]
        order = sorted(range(len(pairs)), key=lambda i: (-(len(pairs[i][0]) + len(pairs[i][1])), i))
        results: list[LoglikelihoodResult | None] = [None] * len(pairs)
        with self._progress(len(pairs), desc) as bar:
            for batch in self._batches(order, lambda i: len(pairs[i][0]) + len(pairs[i][1]) - 1,
                                       max_padding=MAX_PADDING):
                scored = self._retry_on_oom(lambda b: self._forward_batch([pairs[i] for i in b]), batch)
                for i, r in zip(batch, scored):
                    results[i] = r
                bar.update(len(batch))
        return results  # type: ignore[return-value]

    def _pad(self, sequences: list[list[int]], *, left: bool):
        return pad_batch(sequences, self.pad_id, left=left)

    @torch.no_grad()
    def _forward_batch(self, pairs: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        # The model sees context + continuation minus its last token; position t
        # predicts token t+1, so the continuation's scores sit at the last len(x) positions.
        inputs = [(c + x)[:-1] for c, x in pairs]
        ids, mask = self._pad(inputs, left=False)  # right padding keeps positions 0..n-1 for every row
        with self._in_context():
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        self._count(int(mask.sum()), ids.numel())
        by_length: dict[int, list[int]] = {}  # continuation length -> rows, scored together
        for row, (_, x) in enumerate(pairs):
            by_length.setdefault(len(x), []).append(row)
        out: list[LoglikelihoodResult | None] = [None] * len(pairs)
        for width, rows in by_length.items():
            # Row r's continuation is predicted at positions len(context) - 1 onwards.
            scored = continuation_results([pairs[r][1] for r in rows], logits=logits,
                                          at=[(r, len(pairs[r][0]) - 1) for r in rows])
            for r, result in zip(rows, scored):
                out[r] = result
        return out  # type: ignore[return-value]

    def _count(self, real: int, computed: int) -> None:
        # Counted once a batch has run, so a batch retried after out-of-memory counts once.
        with self._lock:
            self.real_tokens += real
            self.padded_tokens += computed

    @contextlib.contextmanager
    def _in_context(self):
        """``context_manager`` around a forward pass, entered once however many threads are inside it."""
        with self._lock:
            if not self._inside:
                self._entered = self.context_manager()
                self._entered.__enter__()
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if not self._inside:
                    entered, self._entered = self._entered, None
                    entered.__exit__(None, None, None)

    @torch.no_grad()
    def _forward_shared(self, groups, continuations) -> list[list[LoglikelihoodResult]]:
        """Contexts once (their common start once for the batch), then the continuations from the cache.

        Continuations run in groups of equal length, each from its own selection of
        the contexts' cache, so none of their tokens is padding.
        """
        contexts = [context for context, _ in groups]
        shared = common_start(contexts) if len(contexts) > 1 else 0
        ids, mask = self._pad([c[shared:] for c in contexts], left=True)
        mask = torch.cat([torch.ones(len(contexts), shared, dtype=torch.long), mask], dim=1)
        # Explicit positions: left padding must not shift where each context's own tokens sit.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        by_length: dict[int, list[tuple[int, int]]] = {}  # continuation tokens after the 1st -> (row, request)
        for row, (_, members) in enumerate(groups):
            for i in members:
                by_length.setdefault(len(continuations[i]) - 1, []).append((row, i))
        scored: dict[int, LoglikelihoodResult] = {}
        with self._in_context():
            cache = None
            if shared:
                start = torch.tensor([contexts[0][:shared]], device=self.device)
                cache = cache_rows(getattr(self.model(input_ids=start, use_cache=True), _CACHE),
                                   torch.zeros(len(contexts), dtype=torch.long, device=self.device))
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             position_ids=positions.to(self.device), use_cache=True, **{_CACHE: cache},
                             logits_to_keep=1)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # predicts each continuation's 1st token
            lengths = mask.sum(-1)
            for width, members in sorted(by_length.items()):
                targets, lead_at = [continuations[i] for _, i in members], [row for row, _ in members]
                if not width:
                    scored.update(zip((i for _, i in members), continuation_results(targets, lead=first,
                                                                                   lead_at=lead_at)))
                    continue
                rows = torch.tensor(lead_at)
                cont_ids = torch.tensor([continuations[i][:-1] for _, i in members])
                cont_mask = torch.cat([mask[rows], torch.ones(len(members), width, dtype=torch.long)], dim=1)
                cont_positions = lengths[rows][:, None] + torch.arange(width)[None, :]
                logits = self.model(input_ids=cont_ids.to(self.device), attention_mask=cont_mask.to(self.device),
                                    position_ids=cont_positions.to(self.device),
                                    use_cache=False, **{_CACHE: cache_rows(getattr(out, _CACHE), rows.to(self.device))}
                                    ).logits
                # Summed here, group by group, so only one group's logits are held at a time.
                scored.update(zip((i for _, i in members), continuation_results(
                    targets, logits=logits, at=[(k, 0) for k in range(len(members))], lead=first, lead_at=lead_at)))
        continuation_tokens = sum(width * len(members) for width, members in by_length.items())
        self._count(shared + int(mask[:, shared:].sum()) + continuation_tokens,
                    shared + ids.numel() + continuation_tokens)
        return [[scored[i] for i in members] for _, members in groups]

    def _sample_batch(self, batch: list[list[int]], max_tokens: int, temperature: float) -> list[list[int]]:
        model = self.model
        if decoding.plain_decoding(model):
            ends = decoding.end_of_text_ids(model, self.tokenizer)

            def pick(logits):
                return torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1)[:, 0]

            return decoding.decode(model, batch, max_new_tokens=max_tokens, pick=pick, pad_id=self.pad_id,
                                   finished=lambda i, tokens: tokens[-1] in ends, device=self.device, cache_arg=_CACHE)
        ids, mask = self._pad(batch, left=True)
        out = model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), do_sample=True,
                             temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_tokens,
                             pad_token_id=self.pad_id)
        rows, eos = [], self.tokenizer.eos_token_id
        for row in out[:, ids.shape[1]:].tolist():
            # Keep the end-of-text token (the model chose to stop) and nothing after it.
            cut = row.index(eos) + 1 if eos is not None and eos in row else len(row)
            rows.append(row[:cut])
        return rows

    @torch.no_grad()
    def _generate_batch(self, contexts: list[list[int]], requests: list[GenerationRequest]) -> list[str]:
        with self._in_context():
            return self._generate_rows(contexts, requests)

    def _generate_rows(self, contexts: list[list[int]], requests: list[GenerationRequest]) -> list[str]:
        # A row ends at its first stop string (or end of text): what follows a stop is cut away
        # below anyway, so computing it would be wasted decoding steps.
        request, model = requests[0], self.model  # a batch shares max_tokens and stop strings (see generate)
        stop = [s for s in request.stop if s]
        if decoding.plain_decoding(model):
            ends = decoding.end_of_text_ids(model, self.tokenizer)

            def finished(i: int, tokens: list[int]) -> bool:
                if tokens[-1] in ends:
                    return True
                hopeless = requests[i].hopeless
                if not stop and hopeless is None:
                    return False
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                return any(s in text for s in stop) or (hopeless is not None and hopeless(text))

            generated = decoding.decode(model, contexts, max_new_tokens=request.max_tokens,
                                        pick=lambda logits: logits.argmax(dim=-1), finished=finished,
                                        pad_id=self.pad_id, device=self.device, cache_arg=_CACHE)
            texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            return [cut_at_stop(t, request.stop) for t in texts]
        ids, mask = self._pad(contexts, left=True)  # left padding: generation continues from the right edge
        width = ids.shape[1]
        criteria = StoppingCriteriaList([_StopStrings(self.tokenizer, stop, width)]) if stop else None
        generated = model.generate(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device), do_sample=False,
            max_new_tokens=request.max_tokens, pad_token_id=self.pad_id, temperature=None, top_p=None, top_k=None,
            stopping_criteria=criteria)
        texts = self.tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
        return [cut_at_stop(t, request.stop) for t in texts]


class _StopStrings(StoppingCriteria):
    """Ends each row whose generated text holds a stop string, by decoding it as the answer is decoded.

    transformers' own ``stop_strings`` works in token space from the tokenizer's vocabulary, and fails
    outright on some tokenizers ("substring not found"); decoding a few dozen tokens per row per step
    costs little next to a forward pass, and sees exactly the text :func:`cut_at_stop` will cut.
    """

    def __init__(self, tokenizer, stop: list[str], prompt_width: int):
        self.tokenizer, self.stop, self.width = tokenizer, stop, prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.width:], skip_special_tokens=True)
        return torch.tensor([any(s in text for s in self.stop) for text in texts], device=input_ids.device)


class _ShareOfBar:
    """Counts requests done and moves an outer bar by the same share of its ``items``.

    A chunk's requests (choices, windows) are not its items; the outer bar counts items,
    so each request moves it by items/requests, in whole steps, and never past ``items``.
    """

    def __init__(self, bar, items: int, requests: int):
        self.bar, self.items, self.requests = bar, items, max(requests, 1)
        self.done = self.shown = 0

    def __enter__(self):
        return self

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.requests)
        self._show(self.items * self.done // self.requests)

    def _show(self, target: int) -> None:
        if target > self.shown:
            self.bar.update(target - self.shown)
            self.shown = target

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self._show(self.items)


def continuation_results(tokens: list[list[int]], *, logits: torch.Tensor | None = None,
                         at: list[tuple[int, int]] | None = None, lead: torch.Tensor | None = None,
                         lead_at: list[int] | None = None, at_once: bool | None = None) -> list[LoglikelihoodResult]:
    """Each continuation's summed log-prob and whether it is greedy, for continuations of one length.

    Continuation k is predicted by ``logits[row, start:]`` with ``(row, start) = at[k]``;
    when ``lead`` (log-probs) is given, ``lead[lead_at[k]]`` predicts its first token
    and the logits the rest. On a GPU the whole group is reduced at once and read back
    once: small per-row operations, and host reads that wait for the device, cost more
    than the forward pass there. On the CPU a row at a time, on views of the logits,
    keeps each log-softmax in cache and copies nothing; both give the same numbers.
    ``at_once`` chooses the way regardless of the device.
    """
    device = (logits if logits is not None else lead).device
    target = torch.tensor(tokens, device=device)
    width = target.shape[1] - (lead is not None)
    whole = device.type == "cuda" if at_once is None else at_once
    sums, greedy = [], []
    for group in [list(range(len(tokens)))] if whole else [[k] for k in range(len(tokens))]:
        parts = []
        if lead is not None:
            parts.append(lead[torch.tensor([lead_at[k] for k in group], device=device)][:, None] if whole
                         else lead[lead_at[group[0]]][None, None])
        if logits is not None and width:
            if whole:
                rows = torch.tensor([at[k][0] for k in group], device=device)
                starts = torch.tensor([at[k][1] for k in group], device=device)
                rows_logits = logits[rows[:, None], starts[:, None] + torch.arange(width, device=device)[None, :]]
            else:
                row, start = at[group[0]]
                rows_logits = logits[row, start:start + width][None]
            parts.append(torch.log_softmax(rows_logits.float(), dim=-1))
        logprobs = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        picked = target[group[0]:group[-1] + 1]
        sums.append(logprobs.gather(2, picked[..., None]).squeeze(2).sum(dim=1))
        greedy.append((logprobs.argmax(dim=-1) == picked).all(dim=1))
    return [LoglikelihoodResult(total, len(row), is_greedy)
            for total, row, is_greedy in zip(torch.cat(sums).tolist(), tokens, torch.cat(greedy).tolist())]


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Text up to (not including) the earliest stop string.

    >>> cut_at_stop("42\\nQ: next", ["\\n"])
    '42'
    """
    cut = len(text)
    for s in stop:
        if s and s in text:
            cut = min(cut, text.index(s))
    return text[:cut]
