"""OpenAI-compatible HTTP backend: any served LLM with a ``/v1/completions`` endpoint.

Scoring sends ``prefix + prompt + continuation`` with ``echo=true, logprobs=1, max_tokens=0``
and keeps the log-probs of the tokens whose ``text_offset`` falls in the continuation; this is
what vLLM's server returns and what :mod:`gecko_bench.llm.serve` serves. A server that returns
no log-probs for the echoed prompt (llama.cpp's server does not echo them) fails with InputError:
scoring every pair 0.0 would silently put every ranking back in retriever order.

The API key comes from ``api_key`` or else ``$OPENAI_API_KEY``; it is sent as a bearer token and
never stored.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence

from gecko_bench.errors import InputError
from gecko_bench.llm.base import LLM, cut_at_stop


class HttpLLM(LLM):
    """Client for an OpenAI-compatible completions server."""

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None,
                 timeout_s: float = 300.0, batch_size: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        self.timeout_s = timeout_s
        self.batch_size = batch_size

    def _post(self, payload: dict) -> dict:
        req = urllib.request.Request(
            f"{self.base_url}/completions", data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError) as exc:
            raise InputError(f"LLM server {self.base_url} failed: {exc}") from exc

    def _complete(self, prompts: list[str], **params) -> list[dict]:
        choices: list[dict] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start:start + self.batch_size]
            body = self._post({"model": self.name, "prompt": batch, **params})
            got = sorted(body["choices"], key=lambda c: c["index"])
            if len(got) != len(batch):
                raise InputError(f"LLM server returned {len(got)} choices for {len(batch)} prompts")
            choices.extend(got)
        return choices

    def token_logprobs(self, prompts: Sequence[str], continuations: Sequence[str],
                       prefix: str = "") -> list[list[float]]:
        texts = [prefix + p + c for p, c in zip(prompts, continuations)]
        choices = self._complete(texts, max_tokens=0, echo=True, logprobs=1, temperature=0.0)
        out = []
        for choice, prompt, cont in zip(choices, prompts, continuations):
            start = len(prefix + prompt)
            lp = choice.get("logprobs") or {}
            scored = [float(v) for off, v in zip(lp.get("text_offset") or [],
                                                 lp.get("token_logprobs") or [])
                      if off >= start and v is not None]
            if not scored:
                raise InputError(
                    f"LLM server {self.base_url} returned no prompt log-probs for the "
                    f"continuation {cont[:40]!r} (asked echo=true, logprobs=1, max_tokens=0); "
                    "scoring needs a server that echoes prompt log-probs (vLLM, or "
                    "`gecko-bench fret serve`); llama.cpp's server does not")
            out.append(scored)
        return out

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64,
                 temperature: float = 0.7, seed: int = 0,
                 stop: Sequence[str] = ("\n\n",)) -> list[str]:
        choices = self._complete(list(prompts), max_tokens=max_new_tokens,
                                 temperature=temperature, seed=seed, stop=list(stop))
        return [cut_at_stop(c["text"], stop) for c in choices]
