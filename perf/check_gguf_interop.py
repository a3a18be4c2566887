#!/usr/bin/env python3
"""Cross-checks our GGUF files against llama.cpp's.

1. Converts a Hugging Face GPT-2 checkpoint with llama.cpp's own convert_hf_to_gguf.py (F32 and
   Q8_0) and with `gpt2 quantize` (F32 and Q8_0).
2. Loads every file with `gpt2 perplexity --dump-logits` and checks the logits against our
   safetensors path: relative L2 <= 1e-4 for F32 (ours and llama.cpp's).
3. Compares our Q8_0 tensors with llama.cpp's byte for byte (gguf-py's reader).
4. Reports KL divergence, PPL ratio and same-top-token of both Q8_0 files against the F32 base
   (`gpt2 perplexity --kl-divergence`): they should agree.
5. If llama-cpp-python is importable, loads our F32 and Q8_0 GGUFs in llama.cpp: greedy text
   must equal `gpt2 generate --temperature 0`, logits within rel. L2 1e-4 (F32; llama.cpp's
   Q8_0 matmul also quantizes activations, so Q8_0 gets 1e-2).
6. Accuracy against llama.cpp, as llama-perplexity measures it: the same Q8_0 file (llama.cpp's
   converter's), the same text and windows, each runtime compared with its own F32: mean and
   p99 KL divergence, same top-1 token, PPL ratio. Ours must be no worse than llama.cpp's
   (mean KLD within 2%: both quantize activations per 32-block, ours with an fp32 scale).

Run (from the repository root, after `swift build -c release`), with the environment that
`perf/compare.sh` creates (perf/.venv: llama-cpp-python, torch, transformers; perf/work: the
llama.cpp tree and build):
    perf/.venv/bin/python perf/check_gguf_interop.py \
        [--llama-cpp perf/work/llama_cpp_python-0.3.36/vendor/llama.cpp] [--model HF_DIR] [--text FILE]
While llama-cpp-python's pip install is unfinished, its bindings from the source tree and the
library from the build tree work too:
    PYTHONPATH=perf/work/llama_cpp_python-0.3.36 LLAMA_CPP_LIB_PATH=perf/work/llama-build/bin \
    perf/.venv/bin/python perf/check_gguf_interop.py
Needs torch, transformers and numpy (the converter's imports); gguf-py is taken from the
llama.cpp tree. Defaults: the trained fixture in Tests/GPT2Tests/Fixtures/trained and its
held-out text. Exits non-zero if a check fails.
"""
import argparse, glob, os, shutil, subprocess, sys, tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def kld_statistics(base, quant, targets):
    """llama-perplexity's statistics of `quant` against `base` ([positions, n_vocab] logits)."""
    def log_softmax(x):
        x = x.astype(np.float64)
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    lp, lq = log_softmax(base), log_softmax(quant)
    kld = (np.exp(lp) * (lp - lq)).sum(axis=1)
    rows = np.arange(len(targets))
    ppl_base, ppl_quant = np.exp(-lp[rows, targets].mean()), np.exp(-lq[rows, targets].mean())
    dp = np.exp(lq[rows, targets]) - np.exp(lp[rows, targets])
    return {"mean_kld": float(kld.mean()), "p99_kld": float(np.percentile(kld, 99)),
            "same_top1": float((base.argmax(1) == quant.argmax(1)).mean()),
            "ppl_ratio": float(ppl_quant / ppl_base), "rms_dp": float(np.sqrt((dp ** 2).mean()))}


def compare_kld_with_llama_cpp(args, files, hf, work, llama_cpp):
    """Step 6: Q8_0 accuracy of llama.cpp and of us, each against its own F32, same windows."""
    context = int(args.context)
    tokens = [int(t) for t in run([args.gpt2, "tokenize", "-f", args.text]).stdout.split()]
    windows = [tokens[s:s + context] for s in range(0, len(tokens), context)]
    windows = [w for w in windows if len(w) > 1]
    # Position i of a window predicts token i + 1: the rows `gpt2 perplexity --dump-logits` writes.
    targets = np.array([t for w in windows for t in w[1:]])

    def theirs(name):
        model = llama_cpp.Llama(model_path=files[name], n_ctx=context, verbose=False, logits_all=True)
        rows = []
        for w in windows:
            model.reset()
            model.eval(w)
            rows.append(np.array(model.scores[:len(w) - 1], dtype=np.float32))
        return np.concatenate(rows)

    def ours(model):
        out = os.path.join(work, os.path.basename(model) + ".kld.logits")
        run([args.gpt2, "perplexity", "-m", model, "-f", args.text, "--context", args.context, "--dump-logits", out])
        return np.fromfile(out, dtype="<f4").reshape(len(targets), -1)

    llama = kld_statistics(theirs("llama-f32"), theirs("llama-q8_0"), targets)
    swift = kld_statistics(ours(hf), ours(files["llama-q8_0"]), targets)
    print(f"Q8_0 vs F32 on {len(targets)} positions ({len(windows)} windows of <= {context} tokens):")
    print(f"  {'':10} {'mean KLD':>10} {'p99 KLD':>10} {'same top-1':>11} {'PPL ratio':>10} {'RMS dp':>8}")
    for name, s in (("llama.cpp", llama), ("swift-gpt2", swift)):
        print(f"  {name:10} {s['mean_kld']:10.3e} {s['p99_kld']:10.3e} {100 * s['same_top1']:10.2f}% "
              f"{s['ppl_ratio']:10.5f} {100 * s['rms_dp']:7.3f}%")
    if not swift["mean_kld"] <= llama["mean_kld"] * 1.02:
        return [f"our Q8_0 mean KLD {swift['mean_kld']:.3e} is worse than llama.cpp's {llama['mean_kld']:.3e}"]
    return []


def main():
    ap = argparse.ArgumentParser()
    candidates = [d for d in sorted(glob.glob(os.path.join(ROOT, "perf/work/*/vendor/llama.cpp"))
                                    + glob.glob("/work/wt/perf/perf/work/*/vendor/llama.cpp"))
                  if os.path.isdir(os.path.join(d, "gguf-py")) and os.path.exists(os.path.join(d, "convert_hf_to_gguf.py"))]
    ap.add_argument("--llama-cpp", default=candidates[0] if candidates else None, help="a llama.cpp source tree")
    ap.add_argument("--gpt2", default=os.path.join(ROOT, ".build/release/gpt2"))
    ap.add_argument("--model", default=os.path.join(ROOT, "Tests/GPT2Tests/Fixtures/trained"))
    ap.add_argument("--text", default=os.path.join(ROOT, "Tests/GPT2Tests/Fixtures/trained/heldout.txt"))
    ap.add_argument("--context", default="128")
    ap.add_argument("--converter-python", default=sys.executable,
                    help="Python with torch + transformers for convert_hf_to_gguf.py (default: this one)")
    args = ap.parse_args()
    if not args.llama_cpp:
        sys.exit("no llama.cpp tree found: pass --llama-cpp")
    sys.path.insert(0, os.path.join(args.llama_cpp, "gguf-py"))
    from gguf import GGUFReader

    work = tempfile.mkdtemp(prefix="gguf-interop-")
    hf = os.path.join(work, "hf")
    shutil.copytree(args.model, hf)
    for name in ("vocab.json", "merges.txt"):  # the converter needs the tokenizer files
        if not os.path.exists(os.path.join(hf, name)):
            shutil.copy(os.path.join(ROOT, "Sources/Tokenizer/Resources", name), hf)
    env = dict(os.environ, PYTHONPATH=os.path.join(args.llama_cpp, "gguf-py"))
    files = {}
    for t in ("f32", "q8_0"):
        files["llama-" + t] = os.path.join(work, f"llama-{t}.gguf")
        run([args.converter_python, os.path.join(args.llama_cpp, "convert_hf_to_gguf.py"), hf, "--outtype", t,
             "--outfile", files["llama-" + t]], env=env)
        files["ours-" + t] = os.path.join(work, f"ours-{t}.gguf")
        run([args.gpt2, "quantize", hf, files["ours-" + t], "--type", t])

    failures = []

    def logits(model):
        out = os.path.join(work, os.path.basename(model) + ".logits")
        run([args.gpt2, "perplexity", "-m", model, "-f", args.text, "--context", args.context, "--dump-logits", out])
        return np.fromfile(out, dtype="<f4")

    base = logits(hf)
    for name in ("llama-f32", "ours-f32"):
        x = logits(files[name])
        rel = float(np.linalg.norm(x - base) / np.linalg.norm(base)) if x.shape == base.shape else float("inf")
        print(f"{name}: logits rel. L2 vs safetensors = {rel:.3e}")
        if not rel <= 1e-4:
            failures.append(f"{name} logits differ (rel. L2 {rel:.3e})")

    ours, theirs = GGUFReader(files["ours-q8_0"]), GGUFReader(files["llama-q8_0"])
    a = {t.name: t for t in ours.tensors}
    b = {t.name: t for t in theirs.tensors}
    if set(a) != set(b):
        failures.append(f"tensor names differ: {sorted(set(a) ^ set(b))}")
    differing = [n for n in sorted(set(a) & set(b))
                 if a[n].tensor_type != b[n].tensor_type or np.array(a[n].data).tobytes() != np.array(b[n].data).tobytes()]
    print(f"Q8_0 files: {len(a)} tensors, {len(differing)} differ from llama.cpp's: {differing[:5]}")
    if differing:
        failures.append(f"{len(differing)} tensors differ from llama.cpp's Q8_0")

    kld = os.path.join(work, "base.kld")
    run([args.gpt2, "perplexity", "-m", hf, "-f", args.text, "--context", args.context, "--kl-divergence-base", kld])
    for name in ("ours-q8_0", "llama-q8_0"):
        r = run([args.gpt2, "perplexity", "-m", files[name], "-f", args.text, "--context", args.context,
                 "--kl-divergence-base", kld, "--kl-divergence"])
        print(f"== {name} vs F32 base\n{r.stdout}")

    try:
        import llama_cpp
    except ImportError as error:
        print(f"llama-cpp-python is not importable here ({error}): skipped loading our GGUF in llama.cpp")
    else:
        # Greedy text from our F32 GGUF, run by llama.cpp and by us (both stop at <|endoftext|>).
        prompt = "The license grants"
        llm = llama_cpp.Llama(model_path=files["ours-f32"], n_ctx=int(args.context), verbose=False, logits_all=True)
        theirs_text = llm(prompt, max_tokens=24, temperature=0.0, top_k=1)["choices"][0]["text"]
        r = run([args.gpt2, "generate", "-m", files["ours-f32"], "-p", prompt, "-n", "24", "--temperature", "0"])
        ours_text = r.stdout[len(prompt):-1]  # our command echoes the prompt and ends with a newline
        print(f"llama.cpp greedy: {theirs_text!r}\nours greedy:      {ours_text!r}")
        if theirs_text != ours_text:
            failures.append("greedy text differs between llama.cpp and us on our F32 GGUF")
        # Logits of a short text: llama.cpp's scores vs our --dump-logits rows.
        text = "Copyright (C) 2007 Free Software Foundation, Inc. Everyone is permitted to copy"
        path = os.path.join(work, "short.txt")
        open(path, "w").write(text)
        for name, limit in (("ours-f32", 1e-4), ("ours-q8_0", 1e-2)):
            model = llama_cpp.Llama(model_path=files[name], n_ctx=int(args.context), verbose=False, logits_all=True)
            tokens = model.tokenize(text.encode(), add_bos=False)
            model.eval(tokens)
            theirs = np.array(model.scores[:len(tokens) - 1])
            out = os.path.join(work, name + ".short.logits")
            run([args.gpt2, "perplexity", "-m", files[name], "-f", path, "--dump-logits", out])
            ours = np.fromfile(out, dtype="<f4").reshape(-1, theirs.shape[1])
            rel = float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)) if ours.shape == theirs.shape else float("inf")
            print(f"{name} in llama.cpp vs us: logits rel. L2 {rel:.3e} (limit {limit:g})")
            if not rel <= limit:
                failures.append(f"{name}: llama.cpp's logits differ from ours (rel. L2 {rel:.3e})")

        failures += compare_kld_with_llama_cpp(args, files, hf, work, llama_cpp)

    shutil.rmtree(work)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print("all GGUF interop checks passed")


if __name__ == "__main__":
    main()
