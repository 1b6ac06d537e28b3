"""Pure ranking and mining: ranks from scores, reciprocal-rank fusion, positive/negative choice."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence


def ranks(scores: Sequence[float], tiebreak: Sequence[int] | None = None) -> list[int]:
    """1-based ranks, highest score first; ties go to the lower `tiebreak` (default: position)."""
    tb = list(tiebreak) if tiebreak is not None else list(range(len(scores)))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], tb[i]))
    out = [0] * len(scores)
    for r, i in enumerate(order, start=1):
        out[i] = r
    return out


def rrf(rank_lists: Sequence[Sequence[int]], k: float = 0.0) -> list[float]:
    """Reciprocal-rank fusion: sum over rankers of 1/(k + rank) (Gecko Appendix A uses k=0)."""
    return [sum(1.0 / (k + r[i]) for r in rank_lists) for i in range(len(rank_lists[0]))]


POSITIVES = ("seed", "p1")


def parse_negative(spec: str) -> tuple[str, tuple[int, int] | None]:
    """('none'|'random'|'lowest'|'range', (a, b)) from a strategy string; ValueError if bad."""
    if spec in ("none", "random", "lowest"):
        return spec, None
    m = re.fullmatch(r"range:(\d+)-(\d+)", spec)
    if m and 1 <= int(m[1]) <= int(m[2]):
        return "range", (int(m[1]), int(m[2]))
    raise ValueError(f"negative strategy must be none, random, lowest or range:a-b (1 <= a <= b), "
                     f"not {spec!r}")


def mine(seed_id: str, neighbours: Sequence[tuple[str, int]], positive: str, negative: str,
         rng: random.Random) -> tuple[str, str | None]:
    """(positive id, negative id or None) for one query.

    `neighbours` are (passage id, RRF rank) pairs. Positive ``seed`` is the seed passage, ``p1``
    the top RRF neighbour. Negatives are never the positive and never the seed (which is
    relevant to its own query by construction, also when ``p1`` is another passage):
    ``random`` any other neighbour, ``lowest`` the last by RRF, ``range:a-b`` a random one with
    RRF rank in a..b; ``none`` (or no eligible neighbour) gives no negative at all.
    """
    if positive not in POSITIVES:
        raise ValueError(f"positive strategy must be seed or p1, not {positive!r}")
    kind, bounds = parse_negative(negative)
    by_rank = [pid for pid, _ in sorted(neighbours, key=lambda t: t[1])]
    pos = seed_id if positive == "seed" or not by_rank else by_rank[0]
    others = [(pid, r) for pid, r in sorted(neighbours, key=lambda t: t[1])
              if pid not in (pos, seed_id)]
    if kind == "none" or not others:
        return pos, None
    if kind == "lowest":
        return pos, others[-1][0]
    if kind == "random":
        return pos, rng.choice(others)[0]
    pool = [pid for pid, r in others if bounds[0] <= r <= bounds[1]]
    return pos, rng.choice(pool) if pool else None


FILTERS = ("retriever", "teacher")


def parse_filter(spec: str) -> dict[str, int]:
    """``fret.filter`` as {ranker: k}: ``none`` -> {}, ``retriever:5`` -> {"retriever": 5},
    ``retriever:10+teacher:3`` -> both (a query must pass every condition); InputError if bad."""
    from gecko_bench.errors import InputError

    if spec.strip() in ("", "none"):
        return {}
    out: dict[str, int] = {}
    for part in spec.split("+"):
        m = re.fullmatch(r"\s*(retriever|teacher):(\d+)\s*", part)
        if not m or int(m[2]) < 1 or m[1] in out:
            raise InputError(f"fret.filter must be none, retriever:K, teacher:K or both joined "
                             f"by + (K >= 1, each once), not {spec!r}")
        out[m[1]] = int(m[2])
    return out


def filter_reason(conditions: dict[str, int], seed_ranks: dict[str, int | None]) -> str | None:
    """Why a query fails round-trip consistency, or None when it passes (Promptagator).

    `seed_ranks` gives the seed's 1-based rank among the query's neighbours by ``retriever``
    and by ``teacher`` (the fused RRF ranking), None when the seed was not retrieved at all.
    The reason names every failed condition: ``filter:retriever``, ``filter:teacher`` or
    ``filter:retriever+teacher``.
    """
    failed = [name for name in FILTERS if name in conditions
              and (seed_ranks.get(name) is None or seed_ranks[name] > conditions[name])]
    return "filter:" + "+".join(failed) if failed else None
