"""Loading resolved models with transformers and peft, safely.

Two refusals protect people who run forgetcheck on untrusted pull requests:
pickle weights (``.bin``/``.pt``) execute code when loaded, and ``auto_map`` in a
config means the model ships its own Python; both need an explicit flag. The
dtype is chosen once and used for both sides of a comparison.
"""

from __future__ import annotations

import contextlib
import json

import torch

from forgetcheck.errors import BadInput, UnsafeModel
from forgetcheck.models.specs import WEIGHT_SUFFIXES, ModelSpec

# The files transformers and PEFT open when safetensors weights are there; anything else
# they would load instead (pytorch_model.bin, adapter_model.bin) is a pickle.
SAFE_MODEL_FILES = ("model.safetensors", "model.safetensors.index.json")
SAFE_ADAPTER_FILES = ("adapter_model.safetensors",)

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def choose_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def choose_dtype(dtype: str, device: str) -> torch.dtype:
    """bf16 (or fp16) on CUDA, float32 on CPU, unless the user says otherwise."""
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in DTYPES:
        raise BadInput(f"--dtype {dtype!r}: use one of auto, float32, bfloat16, float16")
    return DTYPES[dtype]


def check_device_map(device_map: str | None, device: str) -> str | None:
    """The device map to load with: ``auto`` needs CUDA; None when it does not apply."""
    if device_map in (None, "", "none"):
        return None
    if device_map != "auto":
        raise BadInput(f"--device-map {device_map!r}: only 'auto' is supported")
    if not device.startswith("cuda"):
        return None
    return device_map


def check_loadable(spec: ModelSpec, *, allow_pickle: bool, trust_remote_code: bool) -> None:
    """Refuse folders without weights, pickle-only weights and remote code, in one line each."""
    if spec.gguf_file:
        return
    folder = spec.path
    weights = [p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and not p.name.startswith("training_args")]
    if not weights:
        raise BadInput(f"model {spec.spec!r}: no weights in {folder} (expected *.safetensors); is the download complete?")
    if not allow_pickle:
        # Check the very file the loader will open, not "some .safetensors file": a decoy
        # next to a pickled adapter_model.bin would otherwise pass, and PEFT would unpickle the .bin.
        names = {p.name for p in weights}
        loaded = SAFE_ADAPTER_FILES if spec.adapter else SAFE_MODEL_FILES
        if not any(name in names or (folder / name).exists() for name in loaded):
            pickled = sorted(p.name for p in weights if p.suffix != ".safetensors")
            found = f"no {' or '.join(loaded)}" + (f", only pickle weights ({pickled[0]})" if pickled else
                                                    f" (found {', '.join(sorted(names))})")
            raise UnsafeModel(
                f"model {spec.spec!r}: {found}; the loader would read a pickle file, and loading one can run "
                "arbitrary code. Convert to safetensors, or pass --allow-pickle if you trust the source")
    config_path = folder / ("adapter_config.json" if spec.adapter else "config.json")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{config_path}: cannot read ({exc}); is this a Hugging Face model folder?") from None
    if config.get("auto_map") and not trust_remote_code:
        raise UnsafeModel(
            f"model {spec.spec!r}: needs its own Python code (auto_map in {config_path.name}); "
            "review it and pass --trust-remote-code to run it")


def load_model(spec: ModelSpec, *, dtype: torch.dtype, device: str, allow_pickle: bool = False,
               trust_remote_code: bool = False, device_map: str | None = None):
    """Load a full model and its tokenizer from a resolved (non-adapter) spec; see :func:`load_weights`."""
    tokenizer = load_tokenizer(spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    model = load_weights(spec, dtype=dtype, device=device, allow_pickle=allow_pickle,
                         trust_remote_code=trust_remote_code, device_map=device_map)
    return model, tokenizer


def load_tokenizer(spec: ModelSpec, *, allow_pickle: bool = False, trust_remote_code: bool = False):
    """The tokenizer of a resolved full model, without its weights (cheap: prompts and cache keys need only this).

    It refuses what :func:`load_weights` would refuse, so a run that finds every
    result cached, and never loads weights, still stops at an unsafe model.
    """
    from transformers import AutoTokenizer

    check_loadable(spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    with _cannot_load(spec):
        tokenizer = AutoTokenizer.from_pretrained(spec.path, **_source_options(spec, trust_remote_code))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_weights(spec: ModelSpec, *, dtype: torch.dtype, device: str, allow_pickle: bool = False,
                 trust_remote_code: bool = False, device_map: str | None = None):
    """The model of a resolved full spec, in eval mode on ``device``.

    ``device_map="auto"`` lets accelerate spread a model too large for one GPU over
    all visible GPUs (and CPU memory); see :func:`check_device_map`.
    """
    from transformers import AutoModelForCausalLM

    check_loadable(spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    placement = {"device_map": device_map} if device_map else {}
    with _cannot_load(spec):
        model = AutoModelForCausalLM.from_pretrained(
            spec.path, dtype=dtype, use_safetensors=None if allow_pickle else (None if spec.gguf_file else True),
            **_source_options(spec, trust_remote_code), **placement)
    if spec.gguf_file and getattr(model, "hf_quantizer", None) is not None:
        # GGUF weights arrive dequantized; drop the quantizer marker so the model acts plain.
        model.hf_quantizer.remove_quantization_config(model)
    if not device_map:  # with a device map, accelerate has already placed every layer
        model.to(device)
    model.eval()
    return model


def _source_options(spec: ModelSpec, trust_remote_code: bool) -> dict:
    """from_pretrained options shared by the tokenizer and the weights: remote code, the GGUF file."""
    options = {"trust_remote_code": trust_remote_code}
    if spec.gguf_file:
        options["gguf_file"] = spec.gguf_file
    return options


@contextlib.contextmanager
def _cannot_load(spec: ModelSpec):
    """transformers' loading errors as one line naming the model."""
    try:
        yield
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"model {spec.spec!r}: transformers cannot load it ({first[:300]})") from None


def attach_adapter(model, spec: ModelSpec, *, allow_pickle: bool = False, adapter_name: str = "default"):
    """Wrap a loaded base model with a PEFT adapter; the base pass disables it.

    Given a model already wrapped, the adapter is added beside the others under
    ``adapter_name`` (several candidates share one loaded base and are switched by name).
    """
    from peft import PeftModel

    check_loadable(spec, allow_pickle=allow_pickle, trust_remote_code=False)
    try:
        if isinstance(model, PeftModel):
            model.load_adapter(spec.path, adapter_name=adapter_name, is_trainable=False)
            wrapped = model
        else:
            wrapped = PeftModel.from_pretrained(model, spec.path, adapter_name=adapter_name, is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"adapter {spec.spec!r}: cannot be applied to the base ({first[:300]})") from None
    wrapped.eval()
    return wrapped

