"""The one small interface every LLM backend implements, and shared helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class LLM(ABC):
    """A causal LM that can sample continuations and score given ones.

    Prompts are raw text (no chat template: small models copy few-shot examples otherwise).
    """

    name: str = "llm"

    @abstractmethod
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64,
                 temperature: float = 0.7, seed: int = 0,
                 stop: Sequence[str] = ("\n\n",)) -> list[str]:
        """Sample one continuation per prompt, cut at the first `stop` string.

        temperature 0 is greedy. Same prompts, batch and seed -> same outputs.
        """

    @abstractmethod
    def token_logprobs(self, prompts: Sequence[str], continuations: Sequence[str],
                       prefix: str = "") -> list[list[float]]:
        """Per-token log p(continuation | prefix + prompt) for each pair.

        `prefix` is text shared by every pair (a few-shot block); backends that can, encode it
        once. The scored text is always ``prefix + prompt + continuation``.
        """

    def logprobs(self, prompts: Sequence[str], continuations: Sequence[str], prefix: str = "",
                 reduce: str = "mean") -> list[float] | list[list[float]]:
        """`token_logprobs` reduced per pair: ``mean`` (default), ``sum`` or ``none``."""
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        per_token = self.token_logprobs(prompts, continuations, prefix)
        if reduce == "none":
            return per_token
        if reduce == "sum":
            return [float(sum(t)) for t in per_token]
        if reduce == "mean":
            return [float(sum(t) / len(t)) if t else 0.0 for t in per_token]
        raise ValueError(f"reduce must be mean, sum or none, not {reduce!r}")

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str],
                        prefix: str = "") -> list[list[float]]:
        """log p(choice | prefix + prompt), summed over the choice's tokens, for every prompt
        (rows) and choice (columns): the scores a label set is normalised over.

        This generic form scores each choice as its own continuation (one scoring per choice);
        backends that see the whole next-token distribution override it with one forward.
        """
        per_choice = [self.logprobs(prompts, [c] * len(prompts), prefix=prefix, reduce="sum")
                      for c in choices]
        return [list(row) for row in zip(*per_choice)]


def one_token_choices(splits: Sequence[tuple[list[int], int]]) -> bool:
    """Whether one prompt's choices, as (joint token ids, continuation start) pairs, are the
    same context followed by exactly one token each: then one next-token distribution scores
    them all."""
    ids0, s0 = splits[0]
    return all(len(ids) == s + 1 and s == s0 and ids[:s] == ids0[:s0] for ids, s in splits)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the earliest stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
