"""The optional llama.cpp backend against the transformers backend on the same packaged GGUF.

Skipped where llama-cpp-python is not installed (it compiles llama.cpp: ``make llamacpp``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")

from gecko_bench.fret import prompts as fret_prompts  # noqa: E402
from gecko_bench.fret.pipeline import score_pairs  # noqa: E402
from gecko_bench.llm.llamacpp_backend import LlamaCppLLM  # noqa: E402
from gecko_bench.llm.transformers_backend import TransformersLLM  # noqa: E402

LLM_NAME = "smollm2-135m"
PAIRS = [
    ("The cp command copies files and directories from a source to a destination.",
     "how do I copy a folder"),
    ("Debian is a free operating system developed by volunteers.", "how do I copy a folder"),
    ("Jane Austen wrote Pride and Prejudice, published in 1813.", "who wrote pride and prejudice"),
]


@pytest.fixture(scope="module")
def cpp() -> LlamaCppLLM:
    return LlamaCppLLM(LLM_NAME)


@pytest.fixture(scope="module")
def hf() -> TransformersLLM:
    return TransformersLLM(LLM_NAME, dtype="float32")


def test_scores_agree_with_the_transformers_backend(cpp, hf):
    """Same weights, other kernels: llama.cpp multiplies quantized weights by 8-bit quantized
    activations, so mean log-probs move by up to ~0.3 nat (0.27 over 40 pairs,
    results/perf/fret-backends-smollm2-135m.md) while the order holds."""
    ours, theirs = score_pairs(cpp, PAIRS), score_pairs(hf, PAIRS)
    for key in ("ql", "rc", "rc_norm"):
        assert ours[key] == pytest.approx(theirs[key], abs=0.3), key
    # the ranking a teacher gives is what FRet uses: the relevant passage first for query 1
    assert ours["ql"][0] > ours["ql"][1]


def test_the_kv_cache_reused_between_calls_changes_no_score(cpp):
    prompts = [fret_prompts.ql_pair(p, q)[0] for p, q in PAIRS]
    conts = [fret_prompts.ql_pair(p, q)[1] for p, q in PAIRS]
    together = cpp.token_logprobs(prompts, conts, prefix=fret_prompts.ql_prefix())
    cpp._cached = []  # a cold cache: every token decoded anew
    alone = [cpp.token_logprobs([p], [c], prefix=fret_prompts.ql_prefix())[0]
             for p, c in zip(reversed(prompts), reversed(conts))][::-1]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-4)


def test_one_token_choices_read_one_distribution(cpp):
    prompts = [fret_prompts.rc_pair(p, q)[0] for p, q in PAIRS]
    rows = cpp.choice_logprobs(prompts, fret_prompts.RC_LABELS, prefix=fret_prompts.rc_prefix())
    per_choice = [cpp.logprobs(prompts, [c] * len(prompts), prefix=fret_prompts.rc_prefix(),
                               reduce="sum")
                  for c in fret_prompts.RC_LABELS]
    for i, row in enumerate(rows):
        assert row == pytest.approx([col[i] for col in per_choice], abs=1e-4)


def test_greedy_generation_is_deterministic_and_stops(cpp):
    a = cpp.generate(["The capital of France is"], max_new_tokens=12, temperature=0)
    b = cpp.generate(["The capital of France is"], max_new_tokens=12, temperature=0)
    assert a == b and a[0].strip() and "\n\n" not in a[0]
