#!/usr/bin/env python3
"""Side-by-side speed comparison: swift-gpt2 vs llama.cpp (llama-cpp-python) vs PyTorch.

Runs llama-bench's two standard tests, pp<N> (prompt processing: one batch of N tokens from
an empty KV cache) and tg<N> (text generation: N single-token decodes from an empty KV cache),
at each thread count, for every system and weight type, interleaving systems and repetitions so
that machine drift hits all of them alike:

    for rep in range(R):            # rep 0 is a warm-up per worker, see below
        for threads in T:
            for (system, type) in variants:
                one pp sample, then one tg sample

Each llama.cpp and PyTorch variant lives in its own long-lived worker process (this script
with --worker), so a model is loaded once, the workers never share a Python interpreter, and
the timed region is exactly the decode/forward calls (time.perf_counter_ns), as in
llama-bench. Our own binary is run once per sample (`gpt2 bench ... -r 1 -o jsonl`): its
timings come from its own JSONL (llama-bench fields), which exclude load and warm-up.

Usage: see perf/README.md, or `perf/compare.sh --help`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
RESULTS = HERE / "results"

# --------------------------------------------------------------------------------------------
# Workers (run in child processes: `compare.py --worker llama|torch --model PATH`)
# Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
#   {"op": "pp", "n": 512, "threads": 2, "seed": 1}  -> {"ns": 123456789}
#   {"op": "tg", "n": 128, "threads": 2, "seed": 1}  -> {"ns": 123456789}
#   {"op": "info"}                                   -> {...}
#   {"op": "quit"}
# Each worker does one untimed warm-up of each (op, n, threads) before the first timed run,
# like llama-bench (pp: the whole prompt; tg: one token).
# --------------------------------------------------------------------------------------------


def _tokens(seed: int, n: int, n_vocab: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(n_vocab) for _ in range(n)]


class LlamaWorker:
    """llama.cpp through llama-cpp-python's low-level C API, following llama-bench's
    test_prompt / test_gen: context n_ctx = n_prompt (pp) or n_gen (tg), n_batch 2048,
    n_ubatch 512, flash attention and KV types at their defaults, memory cleared before each
    sample, llama_synchronize after the prompt batch and after every generated token."""

    def __init__(self, model_path: str):
        import ctypes
        import llama_cpp as L

        self.L, self.ctypes = L, ctypes
        L.llama_backend_init()
        # Silence llama.cpp's log (it goes to stderr otherwise).
        self._log_cb = L.llama_log_callback(lambda level, text, user: None)
        L.llama_log_set(self._log_cb, ctypes.c_void_p(0))
        mparams = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(model_path.encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {model_path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos = L.llama_vocab_bos(self.vocab)
        self.ctxs: dict[tuple[str, int], object] = {}
        self.warm: set[tuple[str, int, int]] = set()

    def _ctx(self, op: str, n: int):
        key = (op, n)
        if key not in self.ctxs:
            L = self.L
            cp = L.llama_context_default_params()
            cp.n_ctx = n
            cp.n_batch = 2048
            cp.n_ubatch = 512
            ctx = L.llama_init_from_model(self.model, cp)
            if not ctx:
                raise RuntimeError("llama_init_from_model failed")
            self.ctxs[key] = ctx
        return self.ctxs[key]

    def _pp(self, ctx, toks: list[int]) -> int:
        L, ct = self.L, self.ctypes
        arr = (L.llama_token * len(toks))(*toks)
        t0 = time.perf_counter_ns()
        for start in range(0, len(toks), 2048):
            chunk = toks[start:start + 2048]
            batch = L.llama_batch_get_one(ct.cast(ct.byref(arr, start * ct.sizeof(L.llama_token)),
                                                  ct.POINTER(L.llama_token)), len(chunk))
            if L.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode (prompt) failed")
        L.llama_synchronize(ctx)
        return time.perf_counter_ns() - t0

    def _tg(self, ctx, toks: list[int]) -> int:
        L, ct = self.L, self.ctypes
        one = (L.llama_token * 1)()
        ptr = ct.cast(one, ct.POINTER(L.llama_token))
        t0 = time.perf_counter_ns()
        for tok in toks:
            one[0] = tok
            if L.llama_decode(ctx, L.llama_batch_get_one(ptr, 1)) != 0:
                raise RuntimeError("llama_decode (generation) failed")
            L.llama_synchronize(ctx)
        return time.perf_counter_ns() - t0

    def run(self, op: str, n: int, threads: int, seed: int) -> int:
        L = self.L
        ctx = self._ctx(op, n)
        L.llama_set_n_threads(ctx, threads, threads)
        toks = _tokens(seed, n, self.n_vocab)
        if self.add_bos:
            toks[0] = self.bos
        mem = L.llama_get_memory(ctx)
        if (op, n, threads) not in self.warm:
            L.llama_memory_clear(mem, False)
            self._pp(ctx, toks) if op == "pp" else self._tg(ctx, toks[:1])
            self.warm.add((op, n, threads))
        L.llama_memory_clear(mem, False)
        return self._pp(ctx, toks) if op == "pp" else self._tg(ctx, toks)

    def info(self) -> dict:
        import llama_cpp as L
        return {"llama_cpp_python": L.__version__,
                "system_info": L.llama_print_system_info().decode(errors="replace").strip()}


class TorchWorker:
    """PyTorch fp32, transformers' GPT2LMHeadModel, eager, torch.inference_mode().
    pp: one forward of n tokens with use_cache=True and logits for the last position only
    (as llama.cpp's llama_batch_get_one computes). tg: n single-token forwards carrying
    past_key_values, starting from an empty cache."""

    def __init__(self, model_path: str):
        import torch
        from transformers import GPT2LMHeadModel

        self.torch = torch
        self.model = GPT2LMHeadModel.from_pretrained(model_path, torch_dtype=torch.float32)
        self.model.eval()
        self.n_vocab = self.model.config.vocab_size
        self.warm: set[tuple[str, int, int]] = set()
        import inspect
        params = inspect.signature(self.model.forward).parameters
        self.keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        # transformers >= 5.2x renamed past_key_values to cache (the old name still works, with warnings)
        self.cache_kw = "cache" if "cache" in params else "past_key_values"

    def _pp(self, toks: list[int]) -> int:
        torch = self.torch
        ids = torch.tensor([toks], dtype=torch.long)
        kw = {self.keep_kw: 1} if self.keep_kw else {}
        with torch.inference_mode():
            t0 = time.perf_counter_ns()
            out = self.model(input_ids=ids, use_cache=True, **kw)
            _ = out.logits
            return time.perf_counter_ns() - t0

    def _tg(self, toks: list[int]) -> int:
        torch = self.torch
        ids = [torch.tensor([[t]], dtype=torch.long) for t in toks]
        with torch.inference_mode():
            past = None
            t0 = time.perf_counter_ns()
            for x in ids:
                out = self.model(input_ids=x, use_cache=True, **{self.cache_kw: past})
                past = getattr(out, self.cache_kw)
            return time.perf_counter_ns() - t0

    def run(self, op: str, n: int, threads: int, seed: int) -> int:
        self.torch.set_num_threads(threads)
        toks = _tokens(seed, n, self.n_vocab)
        if (op, n, threads) not in self.warm:
            self._pp(toks) if op == "pp" else self._tg(toks[:1])
            self.warm.add((op, n, threads))
        return self._pp(toks) if op == "pp" else self._tg(toks)

    def info(self) -> dict:
        import torch
        import transformers
        return {"torch": torch.__version__, "transformers": transformers.__version__,
                "torch_config": torch.__config__.parallel_info().strip()}


def worker_main(kind: str, model: str) -> None:
    # Keep stdout for the protocol; anything a library prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    w = LlamaWorker(model) if kind == "llama" else TorchWorker(model)
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "quit":
                break
            if req["op"] == "info":
                reply = w.info()
            else:
                reply = {"ns": w.run(req["op"], req["n"], req["threads"], req.get("seed", 0))}
        except Exception as e:  # report, keep serving
            reply = {"error": f"{type(e).__name__}: {e}"}
        proto.write(json.dumps(reply) + "\n")


class WorkerProc:
    def __init__(self, kind: str, model: str, python: str):
        self.p = subprocess.Popen([python, str(Path(__file__).resolve()), "--worker", kind, "--model", model],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.p.stdout.readline()
        if not ready:
            raise RuntimeError(f"{kind} worker for {model} died while loading (see stderr above)")

    def ask(self, **req) -> dict:
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("worker died")
        return json.loads(line)

    def close(self):
        try:
            self.p.stdin.write('{"op": "quit"}\n')
            self.p.stdin.flush()
            self.p.wait(timeout=30)
        except Exception:
            self.p.kill()


# --------------------------------------------------------------------------------------------
# Our binary
# --------------------------------------------------------------------------------------------

def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs cmd; a program that is not installed gives exit status 127, as in a shell."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)
    except FileNotFoundError as e:
        return subprocess.CompletedProcess(cmd, 127, "", str(e))


def has_subcommand(binary: Path, name: str) -> bool:
    """`gpt2 NAME --help` prints `USAGE: gpt2 NAME ...` when NAME exists; for an unknown NAME
    it prints the top-level help, also with exit status 0."""
    r = sh([str(binary), name, "--help"])
    return re.search(rf"USAGE:\s*\S*gpt2 {re.escape(name)}\b", r.stdout + r.stderr) is not None


class SwiftBench:
    """`gpt2 bench -m MODEL -p P -n N -t T -r 1 -o jsonl`: one JSON object per test (llama-bench
    fields: n_prompt, n_gen, samples_ns, ...). One invocation per sample gives both pp and tg."""

    def __init__(self, binary: Path, model: Path):
        self.binary, self.model = binary, model

    @staticmethod
    def available(binary: Path) -> bool:
        return has_subcommand(binary, "bench")

    @staticmethod
    def parse_jsonl(text: str, n_prompt: int, n_gen: int) -> dict[str, int]:
        """{"pp": ns, "tg": ns} from the bench's JSONL (one sample per test expected)."""
        out: dict[str, int] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            p, g = int(rec.get("n_prompt", 0)), int(rec.get("n_gen", 0))
            ns_list = rec.get("samples_ns") or [rec.get("avg_ns")]
            ns = int(statistics.fmean(ns_list))
            if p == n_prompt and g == 0:
                out["pp"] = ns
            elif p == 0 and g == n_gen:
                out["tg"] = ns
            elif "test" in rec:  # fall back on the test name (pp512 / tg128)
                m = re.fullmatch(r"(pp|tg)(\d+)", str(rec["test"]))
                if m:
                    out[m.group(1)] = ns
        return out

    def run(self, n_prompt: int, n_gen: int, threads: int) -> dict[str, int]:
        cmd = [str(self.binary), "bench", "-m", str(self.model), "-p", str(n_prompt), "-n", str(n_gen),
               "-t", str(threads), "-r", "1", "-o", "jsonl"]
        r = sh(cmd)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-400:]}")
        return self.parse_jsonl(r.stdout, n_prompt, n_gen)


class SwiftGenerate:
    """Fallback while `gpt2 bench` is not on this branch: `gpt2 generate` with a prompt of exactly
    n_prompt tokens, greedy, --ignore-eos, -n n_gen+1, reading the prompt and generation timings it
    prints to stderr. Differences from bench: pp and tg share one process (tg continues after the
    prompt instead of from an empty cache; the first pp of a process is its only pp, so it pays
    the first touch of the weights), and tg includes greedy sampling. Labelled 'swift-gpt2
    (generate)' in the results."""

    def __init__(self, binary: Path, model: Path, prompt_file: Path):
        self.binary, self.model, self.prompt_file = binary, model, prompt_file

    def run(self, n_prompt: int, n_gen: int, threads: int) -> dict[str, int]:
        cmd = [str(self.binary), "generate", "-m", str(self.model), "-f", str(self.prompt_file),
               "-n", str(n_gen + 1), "-t", str(threads), "--temperature", "0", "--ignore-eos", "--seed", "1"]
        r = sh(cmd)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-400:]}")
        mp = re.search(r"prompt: (\d+) tokens in .*?\(([\d.]+) tokens/s\)", r.stderr)
        mg = re.search(r"generation: (\d+) tokens, ([\d.]+) ms/token", r.stderr)
        if not mp or not mg or int(mp.group(1)) != n_prompt:
            raise RuntimeError(f"unexpected generate output: {r.stderr.strip()[-400:]}")
        return {"pp": int(round(n_prompt / float(mp.group(2)) * 1e9)),
                "tg": int(round(float(mg.group(2)) * 1e6 * n_gen))}


# --------------------------------------------------------------------------------------------
# Preparation: model, GGUF conversion, our quantized model, our binary
# --------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_binary(binary: Path, build: bool) -> bool:
    if binary.exists():
        return True
    if not build:
        return False
    log("building .build/release/gpt2 (swift build -c release --product gpt2) ...")
    r = subprocess.run(["swift", "build", "-c", "release", "--product", "gpt2"], cwd=REPO)
    return r.returncode == 0 and binary.exists()


def find_converter() -> Path | None:
    env = os.environ.get("CONVERT_HF_TO_GGUF")
    if env:
        return Path(env)
    hits = sorted(WORK.glob("llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py"))
    return hits[-1] if hits else None


def convert_gguf(model_dir: Path, outtype: str, python: str) -> Path | None:
    out = WORK / f"{model_dir.name}-{outtype}.gguf"
    if out.exists() and out.stat().st_mtime >= (model_dir / "model.safetensors").stat().st_mtime:
        return out
    conv = find_converter()
    if conv is None:
        log("convert_hf_to_gguf.py not found (run perf/compare.sh, or set CONVERT_HF_TO_GGUF)")
        return None
    log(f"converting {model_dir} -> {out.name} ({outtype}) with {conv}")
    r = sh([python, str(conv), str(model_dir), "--outtype", outtype, "--outfile", str(out)])
    if r.returncode != 0 or not out.exists():
        log(f"conversion to {outtype} failed:\n{r.stderr[-2000:]}")
        return None
    return out


def swift_quantized(binary: Path, model_dir: Path, template: str) -> tuple[Path | None, str]:
    """Our Q8_0 model via `gpt2 quantize` (template is configurable: the command is new)."""
    if not has_subcommand(binary, "quantize"):
        return None, "`gpt2 quantize` is not in this build"
    out = WORK / f"{model_dir.name}-q8_0-swift.gguf"  # our loader picks GGUF by extension
    if out.exists():
        return out, ""
    cmd = template.format(gpt2=str(binary), src=str(model_dir), dst=str(out)).split()
    log("quantizing: " + " ".join(cmd))
    r = sh(cmd)
    if r.returncode != 0 or not out.exists():
        return None, f"`{' '.join(cmd)}` failed: {r.stderr.strip()[-300:]}"
    return out, ""


def make_prompt_file(binary: Path, model_dir: Path, n: int) -> Path:
    """A text of exactly n GPT-2 tokens ('the' then n-1 × ' the'), checked with `gpt2 tokenize`."""
    path = WORK / f"prompt-{n}.txt"
    path.write_text("the" + " the" * (n - 1))
    r = sh([str(binary), "tokenize", "-m", str(model_dir), "-f", str(path)])
    got = len(r.stdout.split()) if r.returncode == 0 else -1
    if got != n:
        raise RuntimeError(f"prompt file has {got} tokens, expected {n}")
    return path


# --------------------------------------------------------------------------------------------
# Machine description and versions
# --------------------------------------------------------------------------------------------

def machine_info(python: str) -> dict:
    info: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "hostname": socket.gethostname(), "kernel": platform.release(),
                  "python": platform.python_version()}
    r = sh(["lscpu"])
    for line in r.stdout.splitlines():
        k, _, v = line.partition(":")
        if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
                         "L1d cache", "L2 cache", "L3 cache", "NUMA node(s)", "Hypervisor vendor"):
            info["cpu_" + k.strip().lower().replace(" ", "_").replace("(s)", "s")] = v.strip()
    flags = next((ln.split(":", 1)[1].split() for ln in r.stdout.splitlines() if ln.startswith("Flags")), [])
    info["cpu_avx512"] = " ".join(f for f in flags if f.startswith("avx512"))
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["memory_gib"] = round(mem_kb / 2**20, 1)
    except Exception:
        pass
    try:
        info["os"] = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text()).group(1)
    except Exception:
        pass
    try:
        info["thp"] = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    except Exception:
        pass
    for k in ("LLAMA_CPP_LIB_PATH", "PYTHONPATH", "OMP_NUM_THREADS"):
        if os.environ.get(k):
            info["env_" + k] = os.environ[k]
    r = sh(["swift", "--version"])
    info["swift"] = (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 else "unavailable"
    r = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    info["git_commit"] = r.stdout.strip()
    r = sh(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    info["git_dirty"] = bool(r.stdout.strip())
    code = ("import importlib.metadata as m\n"
            "for p in ['llama-cpp-python','torch','transformers','numpy','gguf','safetensors']:\n"
            "  try: print(p, m.version(p))\n"
            "  except Exception: print(p, 'missing')\n")
    r = sh([python, "-c", code])
    info["packages"] = dict(ln.split(" ", 1) for ln in r.stdout.splitlines() if " " in ln)
    return info


# --------------------------------------------------------------------------------------------
# Statistics and report
# --------------------------------------------------------------------------------------------

def summarize(samples: list[dict], n_prompt: int, n_gen: int) -> list[dict]:
    groups: dict[tuple, list[int]] = {}
    for s in samples:
        groups.setdefault((s["system"], s["type"], s["threads"], s["test"]), []).append(s["ns"])
    rows = []
    for (system, typ, threads, test), ns in groups.items():
        n_tok = n_prompt if test.startswith("pp") else n_gen
        ts = [n_tok * 1e9 / x for x in ns]          # llama-bench: mean and sd of per-sample t/s
        rows.append({"system": system, "type": typ, "threads": threads, "test": test, "n": len(ts),
                     "avg_ts": statistics.fmean(ts), "stddev_ts": statistics.stdev(ts) if len(ts) > 1 else 0.0,
                     "avg_ns": statistics.fmean(ns), "samples_ns": ns, "samples_ts": ts})
    ref = {(r["type"], r["threads"], r["test"]): r["avg_ts"] for r in rows if r["system"] == "llama.cpp"}
    for r in rows:
        base = ref.get((r["type"], r["threads"], r["test"]))
        r["ratio_to_llama_cpp"] = r["avg_ts"] / base if base else None
    order = {"swift-gpt2": 0, "swift-gpt2 (generate)": 0, "llama.cpp": 1, "pytorch": 2}
    rows.sort(key=lambda r: (r["test"][:2] != "pp", r["threads"], r["type"], order.get(r["system"], 9)))
    return rows


def markdown_table(rows: list[dict]) -> str:
    out = ["| system | type | threads | test | t/s (mean ± sd) | ratio to llama.cpp |",
           "|---|---|---:|---|---:|---:|"]
    for r in rows:
        ratio = f"{r['ratio_to_llama_cpp']:.2f}" if r["ratio_to_llama_cpp"] is not None else "–"
        out.append(f"| {r['system']} | {r['type']} | {r['threads']} | {r['test']} | "
                   f"{r['avg_ts']:.1f} ± {r['stddev_ts']:.1f} | {ratio} |")
    return "\n".join(out)


def markdown_report(rows, info, notes, args, variants, elapsed_s) -> str:
    pk = info.get("packages", {})
    lines = [f"# GPT-2 speed: swift-gpt2 vs llama.cpp vs PyTorch ({info['date']})", "",
             f"Model: `{args.model}`; tests pp{args.n_prompt} and tg{args.n_gen}; threads {args.threads}; "
             f"{args.reps} samples per cell (after one untimed warm-up), interleaved "
             f"(rep → threads → system/type → pp, tg); wall time {elapsed_s / 60:.1f} min.", "",
             markdown_table(rows), "",
             "t/s: tokens per second, mean ± standard deviation over the samples (as llama-bench). "
             "Ratio: mean t/s divided by llama.cpp's at the same type, threads and test (>1 = faster than llama.cpp).",
             "", "## Machine", "",
             f"- CPU: {info.get('cpu_model_name')} — {info.get('cpu_cpus')} CPUs "
             f"({info.get('cpu_sockets')} socket(s) × {info.get('cpu_cores_per_socket')} cores × "
             f"{info.get('cpu_threads_per_core')} threads), hypervisor {info.get('cpu_hypervisor_vendor', 'none')}",
             f"- caches: L1d {info.get('cpu_l1d_cache')}, L2 {info.get('cpu_l2_cache')}, L3 {info.get('cpu_l3_cache')}; "
             f"AVX-512: {info.get('cpu_avx512') or 'none'}",
             f"- memory: {info.get('memory_gib')} GiB; THP: {info.get('thp')}",
             f"- OS: {info.get('os')}, kernel {info.get('kernel')}",
             f"- {info.get('swift')}; swift-gpt2 commit {info.get('git_commit')}"
             + (" (uncommitted changes)" if info.get("git_dirty") else ""),
             f"- llama-cpp-python {pk.get('llama-cpp-python')}, torch {pk.get('torch')}, "
             f"transformers {pk.get('transformers')}, numpy {pk.get('numpy')}, gguf {pk.get('gguf')}, "
             f"Python {info.get('python')}"]
    if info.get("env_LLAMA_CPP_LIB_PATH"):
        lines.append(f"- llama.cpp libraries from LLAMA_CPP_LIB_PATH={info['env_LLAMA_CPP_LIB_PATH']}")
    for k in ("llama_system_info", "torch_parallel_info"):
        if info.get(k):
            lines.append(f"- {k.replace('_', ' ')}: `{' '.join(str(info[k]).split())[:400]}`")
    lines += ["", "## Variants", ""] + [f"- {v['system']} {v['type']}: `{v['model']}`" for v in variants]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += ["", f"Command: `{' '.join(sys.argv)}`", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=["llama", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("-m", "--model", help="Hugging Face GPT-2 checkpoint directory "
                    "(default: perf/work/gpt2-random, written by `gpt2 init-random --config gpt2 --seed 0`)")
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("-r", "--reps", type=int, default=5, help="timed samples per cell (default 5)")
    ap.add_argument("--systems", default="swift,llama.cpp,pytorch")
    ap.add_argument("--types", default="f32,q8_0", help="weight types (PyTorch runs f32 only)")
    ap.add_argument("--gpt2", default=str(REPO / ".build/release/gpt2"), help="our release binary")
    ap.add_argument("--no-build", action="store_true", help="do not build our binary when it is missing")
    ap.add_argument("--swift-fallback", choices=["generate", "skip"], default="generate",
                    help="what to do for swift-gpt2 when `gpt2 bench` is missing (default: time `gpt2 generate`)")
    ap.add_argument("--quantize-cmd", default="{gpt2} quantize {src} {dst} --type q8_0",
                    help="command template for our Q8_0 model ({gpt2}, {src}, {dst})")
    ap.add_argument("--python", default=sys.executable, help="interpreter for workers and the converter")
    ap.add_argument("--out", default=str(RESULTS), help="results directory")
    ap.add_argument("--tag", default="", help="suffix for result file names")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of idle between samples (default 0.2)")
    args = ap.parse_args()

    if args.worker:
        worker_main(args.worker, args.model)
        return 0

    WORK.mkdir(parents=True, exist_ok=True)
    threads = [int(x) for x in args.threads.split(",") if x]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    binary = Path(args.gpt2)
    notes: list[str] = []

    have_binary = ensure_binary(binary, not args.no_build)
    model_dir = Path(args.model) if args.model else WORK / "gpt2-random"
    if not model_dir.exists():
        if args.model or not have_binary:
            log(f"model {model_dir} not found")
            return 1
        log(f"writing random-weight GPT-2 124M to {model_dir}")
        r = sh([str(binary), "init-random", "--config", "gpt2", "--seed", "0", "--out", str(model_dir)])
        if r.returncode != 0:
            log(r.stderr)
            return 1
    args.model = str(model_dir)

    # ---- variants: (system, type) -> runner
    variants: list[dict] = []
    workers: list[WorkerProc] = []
    if "swift" in systems:
        if not have_binary:
            notes.append(f"swift-gpt2 skipped: no binary at {binary} (swift build -c release failed or --no-build)")
        else:
            bench = SwiftBench.available(binary)
            if not bench:
                if args.swift_fallback == "skip":
                    notes.append("swift-gpt2 skipped: this build has no `gpt2 bench`")
                else:
                    notes.append("this build has no `gpt2 bench`: swift-gpt2 was timed through `gpt2 generate` "
                                 "(row 'swift-gpt2 (generate)'): greedy, --ignore-eos, a prompt of exactly "
                                 f"{args.n_prompt} tokens; pp from its prompt timing (one prompt per process, so "
                                 "the first touch of the weights is inside it), tg from its ms/token "
                                 "(continuing after the prompt rather than from an empty cache, greedy sampling included)")
            for typ in types:
                if typ == "f32":
                    path = model_dir
                elif typ == "q8_0":
                    path, why = swift_quantized(binary, model_dir, args.quantize_cmd)
                    if path is None:
                        notes.append(f"swift-gpt2 q8_0 skipped: {why}")
                        continue
                else:
                    notes.append(f"swift-gpt2 {typ} skipped: unknown type")
                    continue
                if bench:
                    variants.append({"system": "swift-gpt2", "type": typ, "model": str(path),
                                     "runner": SwiftBench(binary, path)})
                elif args.swift_fallback == "generate":
                    try:
                        prompt = make_prompt_file(binary, model_dir, args.n_prompt)
                        variants.append({"system": "swift-gpt2 (generate)", "type": typ, "model": str(path),
                                         "runner": SwiftGenerate(binary, path, prompt)})
                    except Exception as e:
                        notes.append(f"swift-gpt2 {typ} skipped: {e}")
    if "llama.cpp" in systems:
        try:
            import importlib.util
            ok = sh([args.python, "-c", "import llama_cpp"]).returncode == 0
        except Exception:
            ok = False
        if not ok:
            notes.append("llama.cpp skipped: llama_cpp (llama-cpp-python) does not import in " + args.python)
        else:
            for typ in types:
                gguf = convert_gguf(model_dir, typ, args.python)
                if gguf is None:
                    notes.append(f"llama.cpp {typ} skipped: GGUF conversion failed or converter missing")
                    continue
                log(f"starting llama.cpp worker for {gguf.name}")
                w = WorkerProc("llama", str(gguf), args.python)
                workers.append(w)
                variants.append({"system": "llama.cpp", "type": typ, "model": str(gguf), "runner": w})
    if "pytorch" in systems or "torch" in systems:
        if "f32" in types:
            log("starting PyTorch worker")
            try:
                w = WorkerProc("torch", str(model_dir), args.python)
                workers.append(w)
                variants.append({"system": "pytorch", "type": "f32", "model": str(model_dir), "runner": w})
            except Exception as e:
                notes.append(f"pytorch skipped: {e}")
        if any(t != "f32" for t in types):
            notes.append("pytorch runs fp32 only (no comparable Q8_0 CPU path in eager transformers)")

    if not variants:
        log("nothing to run")
        for n in notes:
            log(n)
        return 1

    info = machine_info(args.python)
    for v in variants:
        if isinstance(v["runner"], WorkerProc):
            extra = v["runner"].ask(op="info")
            if v["system"] == "llama.cpp":
                info["llama_system_info"] = extra.get("system_info")
                # the version the worker imported (also when loaded through PYTHONPATH, not pip)
                info.setdefault("packages", {})["llama-cpp-python"] = extra.get("llama_cpp_python")
            else:
                info["torch_parallel_info"] = extra.get("torch_config")

    # ---- the interleaved loop. Rep -1 is one untimed invocation of our binary per thread count
    # (page cache, CPU clocks; `gpt2 bench` also warms up inside every invocation). The workers
    # warm up by themselves on their first request per (test, n, threads), as llama-bench does.
    samples: list[dict] = []
    t_start = time.time()
    total = args.reps * len(threads) * len(variants)
    done = 0
    try:
        for rep in range(-1, args.reps):
            for t in threads:
                for v in variants:
                    seed = 1000 * (rep + 1) + t
                    if rep < 0 and isinstance(v["runner"], WorkerProc):
                        continue  # workers warm up by themselves on first use
                    try:
                        if isinstance(v["runner"], WorkerProc):
                            res = {}
                            for op, n in (("pp", args.n_prompt), ("tg", args.n_gen)):
                                rep_ = v["runner"].ask(op=op, n=n, threads=t, seed=seed)
                                if "error" in rep_:
                                    raise RuntimeError(rep_["error"])
                                res[op] = rep_["ns"]
                                time.sleep(args.pause)
                        else:
                            res = v["runner"].run(args.n_prompt, args.n_gen, t)
                            time.sleep(args.pause)
                    except Exception as e:
                        msg = f"{v['system']} {v['type']} t={t}: {e}"
                        if msg not in notes:
                            notes.append(f"sample failed: {msg}")
                        log(f"sample failed: {msg}")
                        continue
                    if rep < 0:
                        continue
                    for op, ns in res.items():
                        n = args.n_prompt if op == "pp" else args.n_gen
                        samples.append({"rep": rep, "system": v["system"], "type": v["type"], "threads": t,
                                        "test": f"{op}{n}", "ns": int(ns), "t_s": round(time.time() - t_start, 3)})
                    done += 1
                    log(f"rep {rep + 1}/{args.reps} t={t} {v['system']} {v['type']}: "
                        + ", ".join(f"{op} {(args.n_prompt if op == 'pp' else args.n_gen) * 1e9 / ns:.1f} t/s"
                                    for op, ns in res.items()) + f"  [{done}/{total}]")
    finally:
        for w in workers:
            w.close()
    elapsed = time.time() - t_start

    rows = summarize(samples, args.n_prompt, args.n_gen)
    table = markdown_table(rows)
    print(table)
    for n in notes:
        print(f"\nNote: {n}")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    stem = f"{stamp}-{model_dir.name}" + (f"-{args.tag}" if args.tag else "")
    public_variants = [{k: v[k] for k in ("system", "type", "model")} for v in variants]
    payload = {"machine": info, "args": vars(args), "command": sys.argv, "notes": notes,
               "variants": public_variants, "elapsed_s": elapsed, "summary": rows, "samples": samples}
    (out_dir / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown_report(rows, info, notes, args, public_variants, elapsed))
    log(f"wrote {out_dir / (stem + '.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
