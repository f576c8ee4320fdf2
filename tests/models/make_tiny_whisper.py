#!/usr/bin/env python3
"""Writes a whisper.cpp model file (its "ggml" format) of the Whisper tiny shape with random
weights (issue 12, docs/GENAI.md).

No Whisper weights are reachable here. The file follows whisper.cpp's
models/convert-pt-to-ggml.py exactly: the hyperparameters of tiny (4 encoder + 4 decoder
layers, width 384, 6 heads, 80 mel bins, audio context 1500, text context 448, the
multilingual vocabulary of 51,865), the 80 x 201 mel filter bank computed here as Whisper's
mel_filters.npz was (librosa's Slaney mel filters for 16 kHz, n_fft 400), a vocabulary of
50,257 synthesised byte strings (the base vocabulary's size: whisper.cpp appends the special
tokens <|endoftext|>, <|startoftranscript|>, the 99 languages, <|translate|>, <|transcribe|>,
..., <|notimestamps|> and the 1,501 timestamps itself, at the ids the real model has), then
every tensor with its name and shape, matrices in F16 and vectors in F32 as the converter
writes them. Transcripts are gibberish by design; their structure (segments, times) is real.

  make_tiny_whisper.py OUT_DIR      OUT_DIR/tiny_whisper.bin (about 75 MB)

Runs on Debian's /usr/bin/python3 with python3-numpy; the same arguments write the same bytes.
"""
import argparse
import os
import struct

import numpy as np

# whisper tiny, as in the `dims` of OpenAI's checkpoint.
HPARAMS = dict(n_vocab=51865, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6,
               n_audio_layer=4, n_text_ctx=448, n_text_state=384, n_text_head=6,
               n_text_layer=4, n_mels=80)
BASE_VOCAB = 50257  # tokens before <|endoftext|> in the multilingual tokenizer
SAMPLE_RATE = 16000
N_FFT = 400


def mel_filters(n_mels, sample_rate=SAMPLE_RATE, n_fft=N_FFT):
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney scale and area
    normalisation, 0 Hz to Nyquist): what Whisper's assets/mel_filters.npz holds."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        f_sp = 200.0 / 3
        mels = f / f_sp
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        f_sp = 200.0 / 3
        freqs = f_sp * m
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)

    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:n_mels + 2] - mel_points[:n_mels]))[:, None]
    return weights.astype(np.float32)


def vocabulary():
    """BASE_VOCAB distinct byte strings: the 256 single bytes, then pronounceable pieces (with
    and without a leading space, as BPE pieces are) so that gibberish is at least readable."""
    tokens = [bytes([b]) for b in range(256)]
    consonants, vowels = "bdfghklmnprstvz", "aeiou"
    syllables = [c + v for c in consonants for v in vowels]  # 75
    i = 0
    while len(tokens) < BASE_VOCAB:
        n, word = i, ""
        while True:
            word += syllables[n % len(syllables)]
            n //= len(syllables)
            if n == 0:
                break
        tokens.append((" " + word).encode())
        if len(tokens) < BASE_VOCAB:
            tokens.append(word.encode())
        i += 1
    return tokens


def tensors(h):
    """(name, shape in numpy order) in the order of OpenAI's state dict."""
    a, t, v = h["n_audio_state"], h["n_text_state"], h["n_vocab"]
    out = [("encoder.positional_embedding", (h["n_audio_ctx"], a)),
           ("encoder.conv1.weight", (a, h["n_mels"], 3)), ("encoder.conv1.bias", (a, 1)),
           ("encoder.conv2.weight", (a, a, 3)), ("encoder.conv2.bias", (a, 1))]

    def block(prefix, width, cross):
        parts = [("attn", "attn_ln")] + ([("cross_attn", "cross_attn_ln")] if cross else [])
        rows = []
        for attn, ln in parts:
            rows += [(prefix + attn + ".query.weight", (width, width)),
                     (prefix + attn + ".query.bias", (width,)),
                     (prefix + attn + ".key.weight", (width, width)),
                     (prefix + attn + ".value.weight", (width, width)),
                     (prefix + attn + ".value.bias", (width,)),
                     (prefix + attn + ".out.weight", (width, width)),
                     (prefix + attn + ".out.bias", (width,)),
                     (prefix + ln + ".weight", (width,)), (prefix + ln + ".bias", (width,))]
        rows += [(prefix + "mlp.0.weight", (4 * width, width)), (prefix + "mlp.0.bias", (4 * width,)),
                 (prefix + "mlp.2.weight", (width, 4 * width)), (prefix + "mlp.2.bias", (width,)),
                 (prefix + "mlp_ln.weight", (width,)), (prefix + "mlp_ln.bias", (width,))]
        return rows

    for i in range(h["n_audio_layer"]):
        out += block("encoder.blocks.%d." % i, a, cross=False)
    out += [("encoder.ln_post.weight", (a,)), ("encoder.ln_post.bias", (a,)),
            ("decoder.token_embedding.weight", (v, t)),
            ("decoder.positional_embedding", (h["n_text_ctx"], t))]
    for i in range(h["n_text_layer"]):
        out += block("decoder.blocks.%d." % i, t, cross=True)
    out += [("decoder.ln.weight", (t,)), ("decoder.ln.bias", (t,))]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "tiny_whisper.bin")
    h = HPARAMS
    rng = np.random.default_rng(args.seed)
    with open(path + ".part", "wb") as out:
        out.write(struct.pack("i", 0x67676D6C))  # "ggml"
        for key in ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                    "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels"):
            out.write(struct.pack("i", h[key]))
        out.write(struct.pack("i", 1))  # use_f16
        filters = mel_filters(h["n_mels"])
        out.write(struct.pack("ii", *filters.shape))
        out.write(filters.tobytes())
        tokens = vocabulary()
        out.write(struct.pack("i", len(tokens)))
        for token in tokens:
            out.write(struct.pack("i", len(token)))
            out.write(token)
        for name, shape in tensors(h):
            if name.endswith(("ln.weight", "ln_post.weight", "mlp_ln.weight")):
                data = np.ones(shape, dtype=np.float32)
            else:
                data = rng.standard_normal(shape, dtype=np.float32) * 0.02
            # The converter's rule: F16 unless 1-D, a conv bias or a positional embedding.
            f32 = (len(shape) < 2 or name in ("encoder.conv1.bias", "encoder.conv2.bias",
                                             "encoder.positional_embedding",
                                             "decoder.positional_embedding"))
            data = data.astype(np.float32 if f32 else np.float16)
            encoded = name.encode()
            out.write(struct.pack("iii", len(shape), len(encoded), 0 if f32 else 1))
            for dim in reversed(shape):  # ggml order: the fastest-varying dimension first
                out.write(struct.pack("i", dim))
            out.write(encoded)
            out.write(data.tobytes())
    os.replace(path + ".part", path)


if __name__ == "__main__":
    main()
