"""Profiles: one typed config object that every stage reads.

``tiny`` is for CI and the demo (minutes on 2 cores, tiny real slices), ``cpu`` for a real run on a
laptop-class machine, ``gpu`` for a CUDA machine. A run records the resolved config
(:func:`resolve` -> :func:`as_dict`) in the store, so every score can be traced to its settings.
Each stage owns its own section; add fields there, with defaults, rather than new top-level knobs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

from gecko_bench.errors import InputError


@dataclass
class FretConfig:
    """FRet data generation (gecko_bench.fret)."""

    llm: str = "smollm2-135m"
    llm_backend: str = "transformers"
    llm_dtype: str = "auto"  # transformers backend: auto (bfloat16 where native), float32, bfloat16
    retriever: str = "minilm-l6"
    n_seeds: int = 40
    n_neighbours: int = 20
    rrf_k: float = 0.0
    temperature: float = 0.7
    batch_size: int = 8
    seed: int = 0
    sources: list[str] = field(default_factory=lambda: ["wikipedia", "austen", "nlp-corpus"])
    corpus_size: int | None = 2000  # passages searched for neighbours (None: every seed passage)
    gen_attempts: int = 2  # generations per seed before it counts as rejected
    queries_per_seed: int = 1  # >1: that many queries per seed passage (GPL makes 3; small corpora)
    max_new_tokens: int = 64
    # gecko: the LLM writes a task and a query, few-shot over six task types (the paper's FRet);
    # questions: one question-answering task, the LLM writes a question (InPars / GPL style, for
    # a domain whose queries are questions: docs/domain.md)
    generation: str = "gecko"
    # RRF fuses these rankings: ql, rc (raw log p(Yes)), rc_norm (Yes vs No), retriever.
    # The paper's ql,rc here; the profiles fuse ql with the retriever (PROFILE_RANKERS).
    rankers: list[str] = field(default_factory=lambda: ["ql", "rc"])
    # Round-trip filter: none, or retriever:K / teacher:K (joined by +: both must hold).
    filter: str = "none"
    # false: the LLM only writes queries; no neighbour is scored (QL/RC stored as NaN), ranks
    # are the retriever's, so fret.rankers must be [retriever] (the InPars / Promptagator
    # recipe: seed positive, retriever-mined negative; docs/fret.md "Rank")
    llm_scoring: bool = True


@dataclass
class TrainConfig:
    """Pre-finetuning and fine-tuning (trainers/)."""

    base_model: str = "minilm-l6"
    prefinetune_steps: int = 20
    prefinetune_batch_size: int = 32
    finetune_steps: int = 30
    finetune_batch_size: int = 16
    learning_rate: float = 2e-5
    temperature: float = 0.05
    mrl_dims: list[int] = field(default_factory=lambda: [384, 256, 128, 64])
    positive: str = "p1"
    negative: str = "lowest"
    task_sampling: str = "original"
    # how training texts are written: gecko (the unified format, `task: .. | query: ..` /
    # `title: .. | text: ..`), plain ('{task} {text}', the paper's "- unified format"
    # ablation) or none (the bare texts, as a base model without prompts is scored)
    text_style: str = "gecko"
    seed: int = 0
    max_seq_length: int = 64
    warmup_ratio: float = 0.1
    logging_steps: int = 1
    save_steps: int = 10
    mini_batch_size: int = 0  # >0: GradCache (cached loss) with this mini-batch size
    classification_per_task: int = 64  # (x, x+, x-) triples per classification train split
    other_hard_negatives: bool = False  # True: also score other queries' hard negatives
    # under torchrun: gather every process's embeddings into the loss, so in-batch and
    # same-tower negatives span the global batch (trainers/distributed.py); no effect alone
    gather_across_devices: bool = True
    # compute dtype: float32 | bfloat16 (mixed precision) | auto (bfloat16 where native, float32
    # elsewhere). auto by default: on an AVX512-BF16 CPU the tiny job's bf16 student scored
    # within 0.06 points of the float32 one on every task, its stages 1.6-1.9x faster
    # (docs/training.md "Compute dtype").
    dtype: str = "auto"
    # share of FRet queries held out of training as the dev split the student's prompt style
    # is chosen on (trainers/prompt_choice.py); 0 keeps the training format's style
    dev_fraction: float = 0.2
    # WiSE-FT: interpolate the student with its base, a chosen on the dev split
    # (trainers/wise_ft.py); off by default: not measured better at this scale
    wise_ft: bool = False
    # fine-tuning loss: gecko (eq. 3) | margin_mse (MarginMSE on the teacher's stored scores,
    # as GPL) | gecko+margin_mse (eq. 3 + soft_label_weight x MarginMSE); trainers/losses.py
    loss: str = "gecko"
    soft_label_score: str = "ql"  # the teacher score of the margin: ql | rc_norm
    soft_label_weight: float = 1.0  # the MarginMSE term's weight in gecko+margin_mse
    # >0: score the dev split every this many fine-tuning steps and keep the best checkpoint by
    # dev nDCG@10 (trainers/dev_selection.py); off by default: at tiny the dev split has ~3
    # queries, too few for a choice that is more than noise
    dev_eval_steps: int = 0
    # >0 (with dev_eval_steps): stop after this many evaluations without a dev improvement
    early_stopping_patience: int = 0


@dataclass
class EvalConfig:
    """Benchmark evaluation (gecko_bench.eval)."""

    suite: str = "gecko-offline-tiny"
    dims: list[int] = field(default_factory=lambda: [384, 256, 128, 64])
    prompt_style: str = "auto"  # the job's own models: see pipeline.PROMPT_STYLE
    batch_size: int = 32
    tasks: list[str] = field(default_factory=list)  # non-empty: these tasks instead of the suite
    max_seq_length: int | None = None  # cap on every model's input tokens (None: the model's own)
    # compute dtype: float32 | bfloat16 | auto (bfloat16 autocast where native). float32 by
    # default: bfloat16 moved 5 of the 15 tiny-suite main scores by more than 0.2 points
    # (up to 0.51; docs/eval.md "Compute dtype").
    dtype: str = "float32"
    # >1: encode through that many worker processes (sentence-transformers' multi-process
    # pool; one per GPU on CUDA); the same scores, so not part of any eval key
    processes: int = 1
    # bm25: the lexical baseline (gecko_bench.eval.lexical), scored on retrieval/reranking only
    baselines: list[str] = field(
        default_factory=lambda: ["minilm-l6", "mpnet-base", "e5-small-multilingual", "bm25"])


@dataclass
class DomainConfig:
    """Domain adaptation to a target corpus (gecko_bench.domain; set by ``run --corpus``)."""

    corpus: str | None = None  # a BEIR folder (corpus.jsonl; queries + qrels to evaluate on)
    corpus_hash: str | None = None  # its content hash: part of the job's identity
    # a registered target (Task or Task:lang) is exported with this many of its queries in
    # qrels/dev.tsv (for choices made on the target), the rest reported as its test split
    dev_queries: int = 0


@dataclass
class Profile:
    """Everything a run of the main job needs to know."""

    name: str
    device: str = "cpu"
    fret: FretConfig = field(default_factory=FretConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    domain: DomainConfig = field(default_factory=DomainConfig)


# RRF of query likelihood with the retriever's own rank, chosen on the selection task
# ManPageFunctionRetrieval (no suite reports it): gemma3-270m, 100 queries x top 20, nDCG@10
# against the retriever's 87.4: ql,retriever 89.6 (+2.2 [-0.3, +4.7]), the paper's ql,rc 77.9
# (-9.6 [-14.9, -4.1]), ql,rc_norm 75.9; relevance classification alone 26.8 (noise at this
# size). smollm2-135m (tiny), 50 queries: 91.1 (+1.7 [-1.0, +4.8]) against 89.4; ql,rc 80.2.
# docs/fret.md "Re-ranker check" has the tables and the reported tasks beside them.
PROFILE_RANKERS = ["ql", "retriever"]


def _tiny() -> Profile:
    # 16 seeds x 8 neighbours keeps FRet to a few minutes with smollm2-135m on 2 cores
    # (QL + RC scoring is ~1 pair/s there); cpu and gpu keep the paper's top-20.
    # Inputs capped at 128 tokens for every model: mpnet-base at its own 384 alone takes ~11 min
    # of the demo's evaluation on 2 cores.
    return Profile(name="tiny", fret=FretConfig(n_seeds=16, n_neighbours=8,
                                                rankers=list(PROFILE_RANKERS)),
                   eval=EvalConfig(max_seq_length=128))


def _cpu() -> Profile:
    # Sized to finish in about an hour on 2 cores (1 h 03 min on 2026-12-05 with bf16 training;
    # 65 min on 2026-11-30; 2 h 03 min, not clean,
    # on 2026-12-02 with the 16-task suite and prompt v2: docs/results.md). Then: FRet
    # 16 min, training 13 min, evaluation 36 min, of which mpnet-base and e5-small take 29.
    # Inputs are capped at 128 tokens for every model, as on tiny, where mpnet-base at its own
    # 384 took twice as long. More data: --set fret.n_seeds=400 --set train.finetune_steps=...
    return Profile(
        name="cpu",
        fret=FretConfig(llm="gemma3-270m", n_seeds=160, batch_size=8,
                        rankers=list(PROFILE_RANKERS)),
        train=TrainConfig(prefinetune_steps=100, finetune_steps=200, max_seq_length=128),
        eval=EvalConfig(suite="gecko-offline-v1", max_seq_length=128),
    )


def _gpu() -> Profile:
    # Training on CUDA keeps the bf16 mixed precision it always had there (dtype auto);
    # evaluation computes in float32 like the other profiles (docs/eval.md "Compute dtype").
    return Profile(
        name="gpu",
        device="cuda",
        fret=FretConfig(llm="gemma3-270m", n_seeds=5000, batch_size=64,
                        rankers=list(PROFILE_RANKERS)),
        train=TrainConfig(prefinetune_steps=1000, prefinetune_batch_size=256,
                          finetune_steps=2000, finetune_batch_size=128, max_seq_length=256,
                          dtype="auto"),
        eval=EvalConfig(suite="gecko-offline-v1", batch_size=256),
    )


def _demo() -> Profile:
    # What `make demo` runs: MiniLM adapted to a corpus where it is weak (the German Debian FAQ,
    # 112 answers; base 43.7 nDCG@10 on its 80 test questions, 32 more choose the checkpoint).
    # GPL-style labels, the recipe that measured best at this scale (docs/results.md, "Domain
    # adaptation"):
    # gemma3-270m writes 4 German questions per answer, the seed is the positive, the
    # retriever's ranks 5-10 the negatives, no LLM re-ranking. +6.50 [+1.14, +11.67] in 13 min
    # 12 s on 2 cores (AMX bfloat16) on 2026-12-02, +8.63 [+2.21, +15.00] in 9 min 21 s on
    # 2026-12-04 (docs/results.md); 8 questions per answer gave +8.42 in 15 min.
    # Learning rate and steps on the 32 dev questions (2026-12-05, FRet data reused, budget 200
    # steps, best step by dev nDCG@10): 1e-5 58.7 (step 190), 2e-5 59.5 (140), 5e-5 59.6 (30);
    # this 2e-5 x 100 58.6 (100). Within one point on 32 questions, so the default stays.
    return Profile(
        name="demo",
        fret=FretConfig(llm="gemma3-270m", generation="questions-de", max_new_tokens=40,
                        n_seeds=112, queries_per_seed=4, llm_scoring=False,
                        rankers=["retriever"], n_neighbours=10),
        train=TrainConfig(positive="seed", negative="range:5-10", prefinetune_steps=0,
                          classification_per_task=0, text_style="none", finetune_steps=100,
                          dev_eval_steps=10, max_seq_length=128),
        eval=EvalConfig(max_seq_length=128, baselines=["minilm-l6", "bm25"]),
        domain=DomainConfig(corpus="DebianFAQMultilingualRetrieval:de", dev_queries=32),
    )


PROFILES = {"tiny": _tiny, "demo": _demo, "cpu": _cpu, "gpu": _gpu}


def resolve(name: str) -> Profile:
    """A fresh Profile object for `name`; InputError listing valid names otherwise."""
    if name not in PROFILES:
        raise InputError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]()


def apply_overrides(profile: Profile, assignments: list[str]) -> Profile:
    """Set ``section.field=value`` pairs (e.g. ``fret.n_seeds=8``, ``train.mrl_dims=384,64``).

    Values are parsed by the field's declared type: int, float, bool (true/false), str, lists
    (comma-separated), and ``none`` for optional fields. InputError names the key, the expected
    type and the bad value, or lists the accepted sections/fields.
    """
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise InputError(f"--set {item!r}: expected section.field=value")
        *path, name = key.split(".")
        target: Any = profile
        for part in path:
            sections = _sections(target)
            if part not in sections:
                raise InputError(f"--set {item!r}: unknown config section {part!r}; sections: "
                                 f"{', '.join(sections)}")
            target = getattr(target, part)
        hints = get_type_hints(type(target))
        fields = [f.name for f in dataclasses.fields(target) if f.name not in _sections(target)]
        if name in _sections(target):
            raise InputError(f"--set {item!r}: {name!r} is a section; set one of its fields, "
                             f"e.g. {name}.{dataclasses.fields(getattr(target, name))[0].name}"
                             f"=...")
        if name not in fields:
            raise InputError(f"--set {item!r}: unknown field {key!r}; fields here: "
                             f"{', '.join(fields)}")
        setattr(target, name, _parse(key, hints[name], raw.strip()))
    return profile


def _sections(obj: Any) -> list[str]:
    """Names of the fields of `obj` that are themselves config dataclasses."""
    return [f.name for f in dataclasses.fields(obj)
            if dataclasses.is_dataclass(getattr(obj, f.name))]


def _parse(key: str, typ: Any, raw: str) -> Any:
    """`raw` as a value of `typ`; InputError naming `key`, the type and the value otherwise."""
    args = get_args(typ)
    if type(None) in args:  # X | None
        if raw.lower() in ("none", "null", ""):
            return None
        inner = next(a for a in args if a is not type(None))
        try:
            return _parse(key, inner, raw)
        except InputError:
            raise InputError(f"{key} takes {_type_name(inner)} or none, not {raw!r}") from None
    if get_origin(typ) is list:
        (inner,) = args
        values = []
        for item in (x.strip() for x in raw.split(",")):
            if not item:
                continue
            try:
                values.append(_parse(key, inner, item))
            except InputError:
                raise InputError(f"{key} takes a comma-separated list of {_type_name(inner)}, "
                                 f"not {item!r} in {raw!r}") from None
        return values
    if typ is bool:
        if raw.lower() not in ("true", "false"):
            raise InputError(f"{key} takes true or false, not {raw!r}")
        return raw.lower() == "true"
    if typ in (int, float):
        try:
            return typ(raw)
        except ValueError:
            raise InputError(f"{key} takes {_type_name(typ)}, not {raw!r}") from None
    return raw


def _type_name(typ: Any) -> str:
    return {int: "int", float: "float", bool: "true or false", str: "str"}.get(typ, str(typ))


def as_dict(obj: Any) -> dict[str, Any]:
    """Plain-dict form of a profile or section, for JSON in the store."""
    return dataclasses.asdict(obj)


def train_identity(train: dict[str, Any]) -> dict[str, Any]:
    """A train section's dict as ids hash it: ``text_style`` gecko / plain as the
    ``unified_format`` flag it replaced (so earlier pipelines and checkpoints keep their ids),
    none beside that flag."""
    out = dict(train)
    style = out.pop("text_style", "gecko")
    out["unified_format"] = style == "gecko"
    if style == "none":
        out["text_style"] = "none"
    return out
