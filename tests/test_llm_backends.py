"""LLM backends on the real smollm2-135m GGUF: batched scoring, HTTP, llama.cpp, bad files."""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from gecko_bench.assets import AssetError, MODELS
from gecko_bench.llm import load_llm
from gecko_bench.errors import InputError
from gecko_bench.fret.rank import ranks
from gecko_bench.llm.http_backend import HttpLLM
from gecko_bench.llm.transformers_backend import cpu_has_native_bf16, resolve_dtype
from gecko_bench.llm.serve import make_server

PREFIX = ("Passage: Paris is the capital and largest city of France.\n"
          "Query: what is the capital of france\n\n")
PROMPTS = ["Passage: The cat sat on the mat and purred loudly all afternoon.\nQuery:",
           "Passage: Photosynthesis lets plants turn sunlight, water and carbon dioxide into "
           "sugar.\nQuery:",
           "Passage: Debian is a free operating system.\nQuery:"]
CONTS = [" where did the cat sit", " how do plants make food from light", " what is debian"]


@pytest.fixture(scope="module")
def llm():
    return load_llm("smollm2-135m", batch_size=2, dtype="float32")  # exact comparisons


@pytest.mark.assets
def test_batched_shared_prefix_matches_one_at_a_time(llm):
    batched = llm.logprobs(PROMPTS, CONTS, prefix=PREFIX, reduce="none")
    for prompt, cont, got in zip(PROMPTS, CONTS, batched):
        (alone,) = llm.logprobs([PREFIX + prompt], [cont], reduce="none")
        assert len(got) == len(alone) == len(llm.encode(cont, first=False))
        assert got == pytest.approx(alone, abs=1e-3)
    means = llm.logprobs(PROMPTS, CONTS, prefix=PREFIX)
    assert means[0] == pytest.approx(sum(batched[0]) / len(batched[0]))
    # a matching query is likelier than a mismatched one under the same passage
    wrong = llm.logprobs(PROMPTS, CONTS[1:] + CONTS[:1], prefix=PREFIX)
    assert sum(m > w for m, w in zip(means, wrong)) >= 2


@pytest.mark.assets
def test_bfloat16_scores_rank_continuations_like_float32(llm):
    """The ``auto`` dtype's fast path (bfloat16) may move log-probs a little, not the ranking."""
    bf16 = load_llm("smollm2-135m", batch_size=2, dtype="bfloat16")
    assert (bf16.dtype, llm.dtype) == ("bfloat16", "float32")
    grid = [(p, c) for p in PROMPTS for c in CONTS]  # every prompt with every query
    exact = llm.logprobs([p for p, _ in grid], [c for _, c in grid], prefix=PREFIX)
    fast = bf16.logprobs([p for p, _ in grid], [c for _, c in grid], prefix=PREFIX)
    assert max(abs(a - b) for a, b in zip(exact, fast)) < 0.15
    for row in range(len(PROMPTS)):
        span = slice(row * len(CONTS), (row + 1) * len(CONTS))
        assert ranks(exact[span]) == ranks(fast[span])


def test_dtype_auto_and_bad_values(monkeypatch):
    from gecko_bench import hardware

    assert resolve_dtype("auto", "cpu") == ("bfloat16" if cpu_has_native_bf16() else "float32")
    monkeypatch.setattr(hardware, "cuda_has_bf16", lambda: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    with pytest.raises(InputError, match="unknown LLM dtype 'fp8'"):
        resolve_dtype("fp8", "cpu")


@pytest.mark.assets
def test_generate_is_seeded_and_stops(llm):
    prompts = [PREFIX + p for p in PROMPTS[:2]]
    a = llm.generate(prompts, max_new_tokens=16, temperature=0.8, seed=5, stop=("\n",))
    assert a == llm.generate(prompts, max_new_tokens=16, temperature=0.8, seed=5, stop=("\n",))
    assert all(isinstance(t, str) and "\n" not in t for t in a)
    greedy = llm.generate(prompts[:1], max_new_tokens=12, temperature=0, stop=("\n",))
    assert greedy[0].strip() and greedy == llm.generate(prompts[:1], max_new_tokens=12,
                                                        temperature=0, stop=("\n",))


@pytest.mark.assets
def test_http_backend_against_local_server(llm):
    server = make_server(llm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        http = HttpLLM(f"http://127.0.0.1:{server.server_address[1]}/v1", model="smollm2")
        remote = http.logprobs(PROMPTS, CONTS, prefix=PREFIX)
        local = llm.logprobs(PROMPTS, CONTS, prefix=PREFIX)
        assert remote == pytest.approx(local, abs=1e-3)
        prompt = [PREFIX + PROMPTS[0]]
        assert http.generate(prompt, max_new_tokens=12, temperature=0, stop=("\n",)) == \
            llm.generate(prompt, max_new_tokens=12, temperature=0, stop=("\n",))
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.assets
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_fret_serve_command_scores_over_http_and_stops_cleanly(llm, stop):
    """`gecko-bench fret serve` in its own process, as the README runs it; Ctrl-C or a plain
    `kill` (SIGTERM: a service manager, or a script whose background jobs ignore SIGINT) ends
    it with exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "gecko_bench", "fret", "serve", "smollm2-135m",
                             "--port", "0", "--llm-dtype", "float32"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://\S+/v1) ", line)
        assert url, line + proc.stderr.read() if proc.poll() is not None else line
        remote = load_llm(url.group(1) + "#smollm2", backend="http").logprobs(
            PROMPTS, CONTS, prefix=PREFIX)
        assert remote == pytest.approx(llm.logprobs(PROMPTS, CONTS, prefix=PREFIX), abs=1e-3)
    finally:
        proc.send_signal(stop)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()


def test_fret_serve_unknown_llm_is_one_error_line():
    proc = subprocess.run([sys.executable, "-m", "gecko_bench", "fret", "serve", "nosuch-llm"],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "nosuch-llm" in lines[0], proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python not installed (optional extra)")
def test_llamacpp_agrees_with_transformers(llm):
    cpp = load_llm("smollm2-135m", backend="llamacpp")
    assert cpp.logprobs(PROMPTS, CONTS, prefix=PREFIX) == pytest.approx(
        llm.logprobs(PROMPTS, CONTS, prefix=PREFIX), abs=0.15)


def test_missing_and_corrupt_gguf_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("GECKO_BENCH_HOME", str(tmp_path))
    with pytest.raises(AssetError, match="not fetched yet"):
        load_llm("smollm2-135m")
    folder = tmp_path / "models" / "smollm2-135m"
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("stamp")
    (folder / MODELS["smollm2-135m"].weight_file).write_bytes(b"GGUF" + b"\0" * 1000)
    with pytest.raises(AssetError, match="sha256 mismatch"):
        load_llm("smollm2-135m")
    assert not (folder / ".complete").exists()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(AssetError, match="could not load"):
        load_llm(str(bad))
    with pytest.raises(AssetError, match="no LLM named"):
        load_llm(str(tmp_path / "absent.gguf"))
    assert not (tmp_path / "llm-cache").exists()


@pytest.mark.assets
def test_rc_normalised_matches_plain_transformers_forward(llm):
    """RC normalised = log p(" Yes") - logsumexp(log p(" Yes"), log p(" No")) at the label
    position, checked against a plain transformers forward of the whole prompt (issue 15.2)."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gecko_bench.fret import prompts as fret_prompts
    from gecko_bench.fret.pipeline import score_pairs
    from gecko_bench.llm.base import LLM
    from gecko_bench.llm.transformers_backend import cached_hf_folder

    pairs = [("Paris is the capital and largest city of France.", "capital of france"),
             ("The cat sat on the mat and purred loudly all afternoon.", "capital of france"),
             ("Debian is a free operating system.", "what is debian")]
    scores = score_pairs(llm, pairs)
    folder = cached_hf_folder("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    (yes,), (no,) = (tok(t, add_special_tokens=False)["input_ids"] for t in (" Yes", " No"))
    for (passage, query), raw, norm in zip(pairs, scores["rc"], scores["rc_norm"]):
        prompt, label = fret_prompts.rc_pair(passage, query)
        assert label == " Yes"
        ids = tok(fret_prompts.rc_prefix() + prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, -1].float(), dim=-1)
        lp_yes, lp_no = logp[yes].item(), logp[no].item()
        assert raw == pytest.approx(lp_yes, abs=2e-3)
        hand = lp_yes - math.log(math.exp(lp_yes) + math.exp(lp_no))
        assert norm == pytest.approx(hand, abs=2e-3)
        assert raw < norm < 0  # Yes and No hold only part of the vocabulary's mass
    # the one-forward fast path agrees with the generic one-scoring-per-label path
    rc = [fret_prompts.rc_pair(p, q)[0] for p, q in pairs]
    fast = llm.choice_logprobs(rc, fret_prompts.RC_LABELS, prefix=fret_prompts.rc_prefix())
    generic = LLM.choice_logprobs(llm, rc, fret_prompts.RC_LABELS, prefix=fret_prompts.rc_prefix())
    assert sum(fast, []) == pytest.approx(sum(generic, []), abs=1e-3)


def _stub_server(choice: dict):
    """A real HTTP server on 127.0.0.1 answering every completion with `choice`; records the
    Authorization header of each request."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(self.headers.get("Authorization"))
            prompts = req["prompt"] if isinstance(req["prompt"], list) else [req["prompt"]]
            body = json.dumps({"choices": [{**choice, "index": i} for i in
                                           range(len(prompts))]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_http_backend_fails_loudly_without_prompt_logprobs(monkeypatch):
    """A server that does not echo prompt log-probs (llama.cpp's) must not score every pair
    0.0, which would silently put the ranks back in retriever order (issue 15.8)."""
    server, seen = _stub_server({"text": " a completion", "logprobs": None,
                                 "finish_reason": "length"})
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
        http = HttpLLM(url, model="m")
        with pytest.raises(InputError, match="no prompt log-probs"):
            http.logprobs(PROMPTS, CONTS, prefix=PREFIX)
        assert seen[-1] == "Bearer sk-from-env"
        # generation needs no log-probs and still works; an explicit key wins over the env
        http = load_llm(f"{url}#m", backend="http", api_key="sk-option")
        assert http.generate(PROMPTS[:1], max_new_tokens=4) == [" a completion"]
        assert seen[-1] == "Bearer sk-option"
        monkeypatch.delenv("OPENAI_API_KEY")
        HttpLLM(url).generate(PROMPTS[:1], max_new_tokens=4)
        assert seen[-1] is None
    finally:
        server.shutdown()
        server.server_close()
    # log-probs of the prompt only (echo ignored): the continuation has no scored token
    server, _ = _stub_server({"text": "", "finish_reason": "length", "logprobs": {
        "tokens": ["Passage"], "token_logprobs": [None], "text_offset": [0]}})
    try:
        http = HttpLLM(f"http://127.0.0.1:{server.server_address[1]}/v1")
        with pytest.raises(InputError, match="no prompt log-probs"):
            http.logprobs(PROMPTS, CONTS, prefix=PREFIX)
    finally:
        server.shutdown()
        server.server_close()
