"""Model specs: what the user typed, resolved to files on disk and a fingerprint.

A spec is a local Hugging Face folder, a ``.gguf`` file, a PEFT adapter (folder
with ``adapter_config.json``), or a Hub id with an optional ``@revision``. Resolving
turns it into a local folder plus a fingerprint — the Hub commit sha, or a hash of
the local files — so a report says exactly which weights it judged.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from forgetcheck.errors import BadInput, ModelNotFound, UnsafeModel
from forgetcheck.hub_errors import hub_errors

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
PICKLE_SUFFIXES = WEIGHT_SUFFIXES[1:]  # every weight format but safetensors runs code when loaded
# Files worth fetching from the Hub: configs, tokenizers and safetensors weights.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: ``path`` is a folder (or the .gguf file's folder).

    source: ``folder``, ``gguf``, ``adapter`` or ``hub``; ``adapter`` is True for a
    PEFT adapter (from a folder or the Hub); ``resolved`` is the fingerprint.
    """

    spec: str
    source: str
    path: Path
    resolved: str
    adapter: bool = False
    gguf_file: str | None = None
    adapter_base: str | None = None


def resolve(spec: str, *, allow_pickle: bool = False) -> ModelSpec:
    """Turn what the user typed into a local model; one-line errors when it can't."""
    path = Path(spec).expanduser()
    if path.exists():
        return _resolve_local(spec, path)
    # Only the repo part counts: a revision like refs/pr/3 has slashes of its own.
    repo = spec.split("@", 1)[0]
    looks_local = spec.startswith((".", "/", "~")) or spec.endswith(".gguf") or repo.count("/") > 1
    if looks_local or not HUB_ID.match(spec):
        raise ModelNotFound(f"model {spec!r}: no such file or folder (give a local folder, a .gguf file, or a Hub id like org/name@revision)")
    return _resolve_hub(spec, allow_pickle)


def _resolve_local(spec: str, path: Path) -> ModelSpec:
    if path.is_file():
        if path.suffix != ".gguf":
            raise BadInput(f"model {spec!r}: a single file must be a .gguf file; for other formats give the model folder")
        return ModelSpec(spec, "gguf", path.parent, "sha256:" + _hash_files([path]), gguf_file=path.name)
    adapter_config = path / "adapter_config.json"
    if adapter_config.exists():
        return ModelSpec(spec, "adapter", path, "sha256:" + _hash_folder(path), adapter=True,
                         adapter_base=_adapter_base(adapter_config))
    if not (path / "config.json").exists():
        raise BadInput(f"model {spec!r}: folder has no config.json; point at a Hugging Face model or PEFT adapter folder")
    return ModelSpec(spec, "folder", path, "sha256:" + _hash_folder(path))


def _resolve_hub(spec: str, allow_pickle: bool) -> ModelSpec:
    from huggingface_hub import snapshot_download

    repo_id, _, revision = spec.partition("@")
    patterns = HUB_PATTERNS + ([f"*{suffix}" for suffix in PICKLE_SUFFIXES] if allow_pickle else [])
    with hub_errors(f"model {spec!r}", ModelNotFound, revision=revision or None,
                    unreachable="not a local path, and the Hub cannot be reached to download it; check the path "
                                "or your connection"):
        local = Path(snapshot_download(repo_id, revision=revision or None, allow_patterns=patterns))
    commit = local.name  # snapshot folders are named by the resolved commit sha
    if not allow_pickle and not any(local.glob("*.safetensors")):
        pickled = _hub_pickle_weights(repo_id, commit)
        if pickled:
            raise UnsafeModel(f"model {spec!r}: only pickle weights on the Hub ({pickled[0]}), not downloaded; loading "
                              "them can run arbitrary code. Pass --allow-pickle if you trust the source")
    adapter_config = local / "adapter_config.json"
    if adapter_config.exists():
        return ModelSpec(spec, "hub", local, commit, adapter=True, adapter_base=_adapter_base(adapter_config))
    return ModelSpec(spec, "hub", local, commit)


def _hub_pickle_weights(repo_id: str, commit: str) -> list[str]:
    """Top-level .bin/.pt weights in a Hub repo, which are not fetched without --allow-pickle."""
    from huggingface_hub import HfApi

    try:
        files = HfApi().list_repo_files(repo_id, revision=commit)
    except Exception:  # only a hint; without it the loader still reports the missing weights
        return []
    return [f for f in files if "/" not in f and f.endswith(PICKLE_SUFFIXES) and not f.startswith("training_args")]


def _adapter_base(config_path: Path) -> str | None:
    try:
        return json.loads(config_path.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise BadInput(f"{config_path}: not a readable adapter config ({exc})") from None


def _hash_folder(folder: Path) -> str:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return _hash_files(files)


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def same_model_name(adapter_base: str, base: ModelSpec) -> bool:
    """Does the adapter's declared base look like the base we were given?

    Compares the last path component case-insensitively, so a local copy of
    ``org/Model`` in ``.../Model`` counts as the same; also reads the base's own
    ``_name_or_path`` from config.json.
    """
    want = adapter_base.rstrip("/").split("/")[-1].lower()
    names = {base.spec.split("@")[0].rstrip("/").split("/")[-1].lower(), base.path.name.lower()}
    config = base.path / "config.json"
    if config.exists():
        try:
            names.add(str(json.loads(config.read_text()).get("_name_or_path", "")).rstrip("/").split("/")[-1].lower())
        except ValueError:
            pass
    return want in names
