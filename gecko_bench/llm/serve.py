"""A minimal OpenAI-compatible ``/v1/completions`` server over any local backend.

Serves what :class:`~gecko_bench.llm.http_backend.HttpLLM` asks for (echo + log-probs, and
sampling), so a model loaded once on a GPU box can score for several FRet shards. Standard library
only: a ThreadingHTTPServer with one lock around the model. ``gecko-bench fret serve`` runs it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gecko_bench.llm.transformers_backend import TransformersLLM


def _choice(llm: TransformersLLM, index: int, prompt: str, req: dict) -> dict:
    max_tokens = int(req.get("max_tokens", 16))
    text = llm.generate([prompt], max_new_tokens=max_tokens,
                        temperature=float(req.get("temperature", 1.0)),
                        seed=int(req.get("seed", 0) or 0),
                        stop=req.get("stop") or ())[0] if max_tokens > 0 else ""
    logprobs = None
    if req.get("echo") and req.get("logprobs") is not None:
        toks = llm.text_logprobs(prompt)
        logprobs = {"tokens": [prompt[s:e] for s, e, _ in toks],
                    "token_logprobs": [v for _, _, v in toks],
                    "text_offset": [s for s, _, _ in toks]}
    return {"index": index, "text": (prompt if req.get("echo") else "") + text,
            "logprobs": logprobs, "finish_reason": "length"}


def make_server(llm: TransformersLLM, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0 picks a free one); call serve_forever() to run it."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") not in ("/v1/completions", "/completions"):
                self.send_error(404)
                return
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompts = req["prompt"] if isinstance(req["prompt"], list) else [req["prompt"]]
            with lock:
                choices = [_choice(llm, i, p, req) for i, p in enumerate(prompts)]
            body = json.dumps({"object": "text_completion", "model": llm.name,
                               "choices": choices}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)
