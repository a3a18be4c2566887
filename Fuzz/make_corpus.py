#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into Fuzz/corpus/TARGET/ (standard library only).

Run from anywhere: python3 Fuzz/make_corpus.py. The files are committed; rerun after changing
this script. Seeds are small valid inputs that reach every branch of a successful parse."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# --- GGUF (ggml/docs/gguf.md) -------------------------------------------------------------
GGUF_TYPES = {"u8": (0, "<B"), "i8": (1, "<b"), "u16": (2, "<H"), "i16": (3, "<h"), "u32": (4, "<I"),
              "i32": (5, "<i"), "f32": (6, "<f"), "bool": (7, "<?"), "str": (8, None), "arr": (9, None),
              "u64": (10, "<Q"), "i64": (11, "<q"), "f64": (12, "<d")}


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_payload(kind, value):
    code, fmt = GGUF_TYPES[kind]
    if kind == "str":
        return gguf_string(value)
    if kind == "arr":
        element_kind, items = value
        out = struct.pack("<IQ", GGUF_TYPES[element_kind][0], len(items))
        return out + b"".join(gguf_payload(element_kind, item) for item in items)
    return struct.pack(fmt, value)


def gguf(version, metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, ne, ggml type, data bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", GGUF_TYPES[kind][0]) + gguf_payload(kind, value)
    data, offsets = b"", []
    for _, _, _, payload in tensors:
        data += b"\0" * (-len(data) % alignment)
        offsets.append(len(data))
        data += payload
    for (name, ne, ggml_type, _), offset in zip(tensors, offsets):
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", ggml_type, offset)
    return out + b"\0" * (-len(out) % alignment) + data


def floats(values, fmt="<f"):
    return b"".join(struct.pack(fmt, v) for v in values)


q8_block = struct.pack("<e", 0.5) + bytes(range(32))  # Q8_0: f16 scale + 32 int8
write("gguf", "all-value-types.gguf", gguf(3, [
    ("general.architecture", "str", "gpt2"),
    ("general.alignment", "u32", 64),
    ("gpt2.block_count", "u32", 1),
    ("u8", "u8", 200), ("i8", "i8", -3), ("u16", "u16", 60000), ("i16", "i16", -300),
    ("i32", "i32", -70000), ("f32", "f32", 1.5), ("bool", "bool", True), ("u64", "u64", 2**40),
    ("i64", "i64", -2**40), ("f64", "f64", 0.25),
    ("tokenizer.ggml.tokens", "arr", ("str", ["a", "b", "ab", "é"])),
    ("ints", "arr", ("i32", [1, 2, 3])),
    ("nested", "arr", ("arr", [("u8", [1, 2]), ("u8", [])])),
], [
    ("f32", [4, 2], 0, floats(range(8))),
    ("f16", [8], 1, floats([0.5] * 8, "<e")),
    ("q8", [32, 1], 8, q8_block),
    ("empty", [0, 3], 0, b""),
], alignment=64))
write("gguf", "minimal-v2.gguf", gguf(2, [], [("w", [2, 2], 0, floats([1, 2, 3, 4]))]))
write("gguf", "metadata-only.gguf", gguf(3, [("general.name", "str", "tiny"), ("n", "u64", 7)], []))

# --- safetensors --------------------------------------------------------------------------
def safetensors(entries, metadata=None):
    """entries: [(name, dtype, shape, data bytes)] in data order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


write("safetensors", "mixed-dtypes.safetensors", safetensors([
    ("wte.weight", "F32", [2, 2], floats([1, 2, 3, 4])),
    ("h.0.ln_1.weight", "F16", [3], floats([1, 0.5, -2], "<e")),
    ("bf16", "BF16", [2], b"\x80\x3f\x00\x40"),
    ("ids", "I64", [1], struct.pack("<q", 7)),
    ("flags", "BOOL", [2], b"\x01\x00"),
    ("empty", "U8", [0], b""),
], {"format": "pt"}))
write("safetensors", "scalar.safetensors", safetensors([("s", "F32", [], floats([3.0]))]))
write("safetensors", "escaped-name.safetensors",
      struct.pack("<Q", 72) + b'{"a\\"b\\u00e9":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}'.ljust(72)
      + struct.pack("<d", 1.0))

# --- config.json --------------------------------------------------------------------------
write("config", "gpt2.json", json.dumps({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
    "n_inner": None, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
    "scale_attn_weights": True, "vocab_size": 50257}, indent=2))
write("config", "minimal.json", '{"n_layer":1,"n_head":2,"n_embd":4,"vocab_size":300}')
write("config", "variants.json", '{"n_layer":2,"n_head":1,"n_embd":8,"n_ctx":16,"n_inner":12,'
      '"vocab_size":257,"layer_norm_epsilon":1e-6,"scale_attn_weights":false,'
      '"activation_function":"gelu_pytorch_tanh","scale_attn_by_inverse_layer_idx":false}')

# --- base-logits file (Sources/ModelIO/BaseLogitsFile.swift) ----------------------------------
def base_logits(magic, vocab, tokens, rows, targets):
    head = magic + struct.pack("<IIII", vocab, 8, 4, 0) + struct.pack("<QQ", len(tokens), len(targets))
    return head + b"".join(struct.pack("<i", t) for t in tokens) + b"".join(rows) + b"".join(struct.pack("<i", t) for t in targets)


def u16_row(floor, scale, target_log_prob, qs):
    return struct.pack("<fff", floor, scale, target_log_prob) + b"".join(struct.pack("<H", q) for q in qs)


write("kld", "two-rows", base_logits(b"GPT2KLD2", 3, [5, 6, 7],
                                     [u16_row(-2.4, 3.0e-5, -0.4, [0, 30000, 65535]), u16_row(-1.5, 2.0e-5, -1.5, [65535, 0, 40000])],
                                     [2, 0]))
write("kld", "float32-layout", base_logits(b"GPT2KLD1", 2, [9], [floats([0.5, -1.25])], [1]))
write("kld", "empty", base_logits(b"GPT2KLD2", 4, [], [], []))


# --- vocab.json + NUL + merges.txt --------------------------------------------------------
def byte_to_unicode():
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, n = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(0x100 + n)
            n += 1
    return mapping


spell = byte_to_unicode()
pieces = [spell[b] for b in range(256)] + ["Ġt", "he", "Ġthe", "in", "Ġin"]
merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ in"]
vocab = {p: i for i, p in enumerate(pieces)}
vocab["<|endoftext|>"] = len(vocab)
write("vocab", "minimal", json.dumps(vocab, ensure_ascii=False) + "\0#version: 0.2\n" + "\n".join(merges) + "\n")
write("vocab", "ascii-escaped-crlf", json.dumps(vocab, ensure_ascii=True, indent=1) + "\0" + "\r\n".join(merges))

# --- tokenizer round trip -----------------------------------------------------------------
write("roundtrip", "english", "Hello world! It's a test, isn't it? We'll see; they'd've said 42.")
write("roundtrip", "code", "def f(x):\n\treturn x**2  # square\n\n\n    if  x  >= 10:\r\n")
write("roundtrip", "unicode", "naïve café — 日本語のテキスト 🙂👍🏽 e\u0301 \u00a0\u2003 ١٢٣ Ⅻ")
write("roundtrip", "endoftext", "first<|endoftext|>second <|endoftext|><|endoftext|>")
write("roundtrip", "ids", bytes([0x10, 0x00, 0x50, 0xC4, 0x51, 0xC4, 0xFF, 0xFF, 0xe5, 0x00, 0x9e, 0x00]))
