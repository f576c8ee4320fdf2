#!/usr/bin/env python3
"""Writes GGUF LLMs of llama.cpp's `qwen2` architecture with random weights and the real Qwen2
tokenizer (issue 12, docs/GENAI.md).

No LLM weights are reachable here, so the project writes its own: the architecture and the
tokenizer are real (the tokenizer's key/value pairs and vocabulary are copied from llama.cpp's
vocabulary-only models/ggml-vocab-qwen2.gguf), the weights are random, so the cost of a token is
the real one and the text is gibberish by design.

  make_tiny_llm.py OUT_DIR                  OUT_DIR/tiny_qwen2.gguf, a few MB, for tests
  make_tiny_llm.py --shape qwen2.5-1.5b OUT.gguf
                                            the shape of Qwen2.5-1.5B (28 layers, hidden 1536,
                                            12 heads / 2 KV heads, FFN 8960, vocabulary 151,936,
                                            RoPE theta 1e6, tied embeddings) in F16, 3.1 GB; the
                                            `genai_models` build target quantizes it to Q4_K_M

--llama-cpp DIR names the llama.cpp tree (gguf-py and the vocabulary; default: the one
scripts/fetch_engines.sh fetched). Runs on Debian's /usr/bin/python3 with python3-numpy.
The same arguments write the same bytes (fixed seeds).
"""
import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (layers, hidden, heads, KV heads, FFN, context) per shape; the vocabulary is the tokenizer's.
SHAPES = {
    # 2 layers, 4 heads of 16 with 2 KV heads (grouped-query attention as in the real model).
    "tiny": dict(layers=2, hidden=64, heads=4, kv_heads=2, ffn=128, context=4096),
    "qwen2.5-1.5b": dict(layers=28, hidden=1536, heads=12, kv_heads=2, ffn=8960, context=32768),
}
ROPE_THETA = 1e6
RMS_EPS = 1e-6


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="output folder (tiny) or .gguf file (other shapes)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--llama-cpp", default=os.path.join(REPO, ".cache", "engines", "llama.cpp"))
    parser.add_argument("--seed", type=int, default=12)
    return parser.parse_args()


def main():
    args = parse_args()
    vocab_path = os.path.join(args.llama_cpp, "models", "ggml-vocab-qwen2.gguf")
    if not os.path.isfile(vocab_path):
        sys.exit("make_tiny_llm: %s is missing; run scripts/fetch_engines.sh" % vocab_path)
    sys.path.insert(0, os.path.join(args.llama_cpp, "gguf-py"))
    import gguf  # noqa: E402  (from the llama.cpp tree, not PyPI)
    from gguf.quants import quantize  # noqa: E402

    if args.shape == "tiny":
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "tiny_qwen2.gguf")
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        path = args.out
    shape = SHAPES[args.shape]
    hidden, heads, kv_heads = shape["hidden"], shape["heads"], shape["kv_heads"]
    head_dim = hidden // heads
    kv_width = kv_heads * head_dim

    vocab = gguf.GGUFReader(vocab_path)
    n_vocab = len(vocab.fields["tokenizer.ggml.tokens"].data)

    arch = "qwen2"
    writer = gguf.GGUFWriter(path + ".part", arch)
    writer.add_name("corun %s-shaped qwen2, random weights" % args.shape)
    writer.add_context_length(shape["context"])
    writer.add_embedding_length(hidden)
    writer.add_block_count(shape["layers"])
    writer.add_feed_forward_length(shape["ffn"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(ROPE_THETA)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    # The tiny model's matrices are F32 (its embedding Q4_0, to stay a few MB); the benchmark
    # shape is F16 as converted checkpoints are, before quantization.
    big = args.shape != "tiny"
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if big else gguf.LlamaFileType.ALL_F32)
    # The tokenizer as it is: every tokenizer.* pair of the vocabulary-only file.
    for key, field in vocab.fields.items():
        if not key.startswith("tokenizer."):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), field.types[0], sub_type)

    # Tensors in the order llama.cpp's converter writes them; numpy shapes are (rows, columns),
    # i.e. ggml's (ne1, ne0). No output.weight: the embedding is tied, as in Qwen2.5-1.5B.
    tensors = [("token_embd.weight", (n_vocab, hidden), "embedding")]
    for i in range(shape["layers"]):
        b = "blk.%d." % i
        tensors += [
            (b + "attn_norm.weight", (hidden,), "norm"),
            (b + "attn_q.weight", (hidden, hidden), "matrix"),
            (b + "attn_q.bias", (hidden,), "bias"),
            (b + "attn_k.weight", (kv_width, hidden), "matrix"),
            (b + "attn_k.bias", (kv_width,), "bias"),
            (b + "attn_v.weight", (kv_width, hidden), "matrix"),
            (b + "attn_v.bias", (kv_width,), "bias"),
            (b + "attn_output.weight", (hidden, hidden), "matrix"),
            (b + "ffn_norm.weight", (hidden,), "norm"),
            (b + "ffn_gate.weight", (shape["ffn"], hidden), "matrix"),
            (b + "ffn_up.weight", (shape["ffn"], hidden), "matrix"),
            (b + "ffn_down.weight", (hidden, shape["ffn"]), "matrix"),
        ]
    tensors.append(("output_norm.weight", (hidden,), "norm"))

    def storage(kind):
        """(numpy dtype, ggml type) a tensor of this kind is written in."""
        if kind in ("norm", "bias"):
            return np.float32, None
        if kind == "embedding" and not big:
            return np.uint8, gguf.GGMLQuantizationType.Q4_0
        return (np.float16 if big else np.float32), None

    def nbytes(dims, kind):
        dtype, qtype = storage(kind)
        if qtype is not None:
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            return int(np.prod(dims)) // block * type_size
        return int(np.prod(dims)) * np.dtype(dtype).itemsize

    sizes = {name: nbytes(dims, kind) for name, dims, kind in tensors}
    nbytes_of = sizes.__getitem__
    # Streamed one tensor at a time: the benchmark shape is 3.1 GB.
    for name, dims, kind in tensors:
        dtype, qtype = storage(kind)
        if qtype is not None:  # gguf-py takes a quantized tensor's shape in bytes
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            dims = dims[:-1] + (dims[-1] // block * type_size,)
        writer.add_tensor_info(name, dims, np.dtype(dtype), nbytes_of(name), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(args.seed)
    for name, dims, kind in tensors:
        dtype, qtype = storage(kind)
        if kind == "norm":
            data = np.ones(dims, dtype=np.float32)
        else:
            # Matrices with a standard deviation of 1/sqrt(fan-in), as initialisations use: each
            # layer changes the residual stream as much as it carries, so the tied output matrix
            # does not just map a token back to itself (with 0.02 greedy decoding repeats the
            # last token forever).
            scale = 1.0 / np.sqrt(dims[-1]) if len(dims) == 2 else 0.02
            data = (rng.standard_normal(dims, dtype=np.float32) * scale)
        if qtype is not None:
            data = quantize(data, qtype)
        writer.write_tensor_data(data.astype(dtype, copy=False))
    writer.close()
    os.replace(path + ".part", path)


if __name__ == "__main__":
    main()
