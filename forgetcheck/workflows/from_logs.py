"""A comparison from two lm-evaluation-harness runs' per-sample logs, with no model loaded.

``lm_eval --log_samples --output_path DIR`` writes one ``samples_TASK_TIMESTAMP.jsonl``
per task, one line per document with its per-item metric values. Given those files
for BASE and CANDIDATE, this pairs the lines by task, filter and ``doc_id``, checks
that both runs asked the same documents (lm-eval's ``doc_hash``/``prompt_hash``/
``target_hash``), and judges each task as a capability with forgetcheck's paired
statistics, so the report, verdicts and exit code are those of ``compare``.

The log files are untrusted input: every field read is checked for its type, and a
problem is one line naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from forgetcheck.analysis.verdicts import CapabilityInfo, judge_items
from forgetcheck.comparison import (
    BINARY_METRICS, Comparison, ItemResult, ModelInfo, Settings, overall_verdict, utc_timestamp)
from forgetcheck.errors import BadInput
from forgetcheck.options import DEFAULTS
from forgetcheck.version import __version__

# The per-item metric a capability is judged on, in order of preference (lm-eval names).
SCALAR_METRICS = ("acc", "acc_norm", "exact_match", "acc_bytes")
# loglikelihood_rolling logs (loglikelihood, words or bytes) per item: judged as log-likelihood per word.
ROLLING_METRICS = ("word_perplexity", "byte_perplexity", "bits_per_byte")
_FILE_NAME = re.compile(r"^samples_(?P<task>.+?)_\d{4}-\d{2}-\d{2}T[\d\-.:]+\.jsonl$")


def sample_files(path: str | Path, side: str) -> dict[str, Path]:
    """Task name -> samples file, from one file or a folder lm-eval wrote (searched recursively)."""
    root = Path(path).expanduser()
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(root.glob("**/samples_*.jsonl"))
    else:
        raise BadInput(f"{side} {path}: no such file or folder; give lm_eval --log_samples output")
    found: dict[str, Path] = {}
    for file in files:
        match = _FILE_NAME.match(file.name)
        task = match["task"] if match else file.stem.removeprefix("samples_")
        if task in found:
            raise BadInput(f"{side} {path}: two sample files for task {task!r} ({found[task].name}, {file.name}); "
                           "keep one run per folder")
        found[task] = file
    if not found:
        raise BadInput(f"{side} {path}: no samples_*.jsonl files; run lm_eval with --log_samples")
    return found


def read_samples(file: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(filter, doc_id) -> the sample line, each checked for the fields a comparison needs."""
    samples: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{file}: cannot read ({type(exc).__name__})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{where}: not valid JSON ({exc.msg}); is this an lm-eval samples file?") from None
        if not isinstance(sample, dict) or not isinstance(sample.get("doc_id"), (int, str)):
            raise BadInput(f"{where}: no doc_id; is this an lm-eval samples file (lm_eval --log_samples)?")
        key = (str(sample.get("filter", "none")), str(sample["doc_id"]))
        if key in samples:
            raise BadInput(f"{where}: doc_id {key[1]} (filter {key[0]}) appears twice")
        samples[key] = sample
    return samples


def _score(sample: dict[str, Any], metric: str, where: str) -> float:
    value = sample.get(metric)
    if metric in ROLLING_METRICS:
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
            raise BadInput(f"{where}: {metric} must be [loglikelihood, count]")
        return float(value[0]) / max(float(value[1]), 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}: {metric} is {value!r}, not a number")
    return float(value)


def _metric(sample: dict[str, Any], where: str) -> str:
    for name in SCALAR_METRICS + ROLLING_METRICS:
        if name in sample:
            return name
    raise BadInput(f"{where}: no per-item metric forgetcheck can judge (known: "
                   f"{', '.join(SCALAR_METRICS + ROLLING_METRICS)})")


def _text(value: Any, limit: int = 300) -> str | None:
    return None if value is None else str(value)[:limit]


def compare_logs(base: str | Path, candidate: str | Path, *, tolerance: float = DEFAULTS.tolerance,
                 confidence: float = DEFAULTS.confidence) -> Comparison:
    """The Comparison of two lm-eval runs from their ``--log_samples`` files; no model is loaded."""
    base_files, cand_files = sample_files(base, "BASE"), sample_files(candidate, "CANDIDATE")
    if set(base_files) != set(cand_files):
        only = sorted(set(base_files) ^ set(cand_files))
        raise BadInput(f"BASE and CANDIDATE logged different tasks (only on one side: {', '.join(only)}); "
                       "compare runs of the same tasks")
    items: list[ItemResult] = []
    infos: list[CapabilityInfo] = []
    for task in sorted(base_files):
        base_samples, cand_samples = read_samples(base_files[task]), read_samples(cand_files[task])
        if set(base_samples) != set(cand_samples):
            missing = sorted(set(base_samples) ^ set(cand_samples))[0]
            raise BadInput(f"{task}: BASE and CANDIDATE logged different documents (doc_id {missing[1]}, filter "
                           f"{missing[0]} is on one side only); use the same --limit and task version")
        filters = sorted({f for f, _ in base_samples})
        for filter_name in filters:
            name = task if len(filters) == 1 else f"{task}/{filter_name}"
            keys = sorted((k for k in base_samples if k[0] == filter_name), key=lambda k: (len(k[1]), k[1]))
            first = f"{base_files[task]}: doc_id {keys[0][1]}"
            metric = _metric(base_samples[keys[0]], first)
            for key in keys:
                b, c = base_samples[key], cand_samples[key]
                where = f"{task} doc_id {key[1]}"
                for field in ("doc_hash", "prompt_hash", "target_hash"):
                    if b.get(field) != c.get(field):
                        raise BadInput(f"{where}: BASE and CANDIDATE asked different {field.split('_')[0]}s "
                                       f"({field} differs); compare runs of the same task version and settings")
                # lm-eval writes each request's arguments as {"gen_args_0": {"arg_0": context, "arg_1": ...}}.
                arguments = b.get("arguments") if isinstance(b.get("arguments"), dict) else {}
                first_request = arguments.get("gen_args_0") if isinstance(arguments.get("gen_args_0"), dict) else {}
                items.append(ItemResult(
                    capability=name, item_id=key[1], base_score=_score(b, metric, f"{base_files[task]}: {where}"),
                    candidate_score=_score(c, metric, f"{cand_files[task]}: {where}"),
                    prompt=_text(first_request.get("arg_0")),
                    expected=_text(b.get("target")), base_answer=_text(b.get("filtered_resps")),
                    candidate_answer=_text(c.get("filtered_resps")),
                    n_options=len(arguments) if metric.startswith("acc") and len(arguments) > 1 else None))
            kind = "perplexity" if metric in ROLLING_METRICS else "generate" if metric == "exact_match" else "choice"
            infos.append(CapabilityInfo(name, kind, metric if metric in BINARY_METRICS else "loglik_per_word", {}))
    capabilities = judge_items(items, infos, tolerance, confidence)
    settings = Settings(dtype="from lm-eval logs", device="none", tolerance=tolerance, confidence=confidence,
                        suites=[{"name": "lm-eval logs", "hash": _files_hash(base_files.values()),
                                 "source": str(base)}],
                        chat_template="as logged", probes=[{"name": i.name, "kind": i.kind, "metric": i.metric}
                                                           for i in infos])
    return Comparison(
        base=_side(base, base_files), candidate=_side(candidate, cand_files), settings=settings,
        capabilities=capabilities, verdict=overall_verdict(capabilities), items=items,
        forgetcheck_version=__version__,
        created_at=utc_timestamp())


def _files_hash(files) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _side(path: str | Path, files: dict[str, Path]) -> ModelInfo:
    """The model a log side stands for: lm-eval's samples name no model, so the logs' own path and hash."""
    return ModelInfo(spec=str(path), source="lm-eval logs", resolved=_files_hash(files.values())[:16])
