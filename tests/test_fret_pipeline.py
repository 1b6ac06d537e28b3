"""FRet build on real seed passages with smollm2-135m: resume after kill, mining, export, errors."""

import dataclasses
import json
import os
import signal
import subprocess
import time

import duckdb
import pytest

from gecko_bench import config
from gecko_bench import fret
from gecko_bench.corpora.seeds import seed_passages
from gecko_bench.errors import InputError
from gecko_bench.fret.pipeline import score_pairs
from gecko_bench.fret.rank import mine, ranks, rrf
from gecko_bench.llm import load_llm
from gecko_bench.store import fret as fret_store
from fret_helpers import BUILD_CLI, stored_batches

CFG = config.FretConfig(n_seeds=6, n_neighbours=4, corpus_size=60, batch_size=2, max_new_tokens=48)


@pytest.fixture(scope="module")
def llm():
    return load_llm("smollm2-135m", batch_size=8)


@pytest.fixture(scope="module")
def built(tmp_path_factory, llm):
    """A real `fret build` killed after its first stored batch, then resumed to completion."""
    db = tmp_path_factory.mktemp("fret") / "fret.duckdb"
    proc = subprocess.Popen(BUILD_CLI + ["--db", str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 900
    while stored_batches(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = stored_batches(db)
    assert 1 <= killed_at < 3
    ds = fret.build(CFG, db_path=db, llm=llm, show_progress=False)
    return db, ds, killed_at


@pytest.mark.assets
@pytest.mark.slow
def test_resume_after_kill_loses_and_duplicates_nothing(built, llm):
    db, ds, killed_at = built
    assert ds == fret.dataset_id(CFG)
    # the killed CLI build and the resumed one are one dataset (a profile default that enters
    # the id once made the "resume" a second, fresh build)
    assert fret_store.fret_datasets_frame(db).dataset_id.tolist() == [ds]
    con = duckdb.connect(str(db), read_only=True)
    try:
        batches = con.execute("SELECT batch_index FROM fret_batches WHERE dataset_id = ? "
                              "ORDER BY 1", [ds]).fetchall()
        seeds_with_query = con.execute("SELECT seed_id FROM fret_queries WHERE dataset_id = ?",
                                       [ds]).fetchall()
        rejected_only = con.execute(
            "SELECT count(DISTINCT seed_id) FROM fret_rejects WHERE dataset_id = ? AND seed_id "
            "NOT IN (SELECT seed_id FROM fret_queries WHERE dataset_id = ?)", [ds, ds]).fetchone()[0]
        per_query = con.execute("SELECT count(*) FROM fret_neighbours WHERE dataset_id = ? "
                                "GROUP BY query_id", [ds]).fetchall()
    finally:
        con.close()
    assert [b for (b,) in batches] == [0, 1, 2]
    assert len(seeds_with_query) == len(set(seeds_with_query))
    assert len(seeds_with_query) + rejected_only == CFG.n_seeds
    assert seeds_with_query and all(n == CFG.n_neighbours for (n,) in per_query)
    row = fret_store.fret_datasets_frame(db).set_index("dataset_id").loc[ds]
    assert row.status == "complete" and row.seeds_done == CFG.n_seeds
    # complete -> idempotent, nothing recomputed
    assert fret.build(CFG, db_path=db, llm=llm, show_progress=False) == ds



@pytest.mark.assets
def test_list_shows_whole_ids_and_progress_in_80_columns(built):
    from typer.testing import CliRunner

    from gecko_bench.cli import app

    db, ds, _ = built
    out = CliRunner().invoke(app, ["fret", "list", "--db", str(db)]).output
    row = next(line for line in out.splitlines() if line.startswith(ds))
    assert row.split()[1:4] == ["smollm2-135m", "minilm-l6", "6/6"]
    assert max(len(line) for line in out.splitlines()) <= 80
    # found / relabel: the seed among a query's neighbours / not its top RRF passage
    nb, queries = fret_store.fret_neighbours_frame(db, ds), fret_store.fret_queries_frame(db, ds)
    seed_of = dict(zip(queries.query_id, queries.seed_id))
    found = nb.groupby("query_id").apply(lambda g: seed_of[g.name] in set(g.passage_id))
    top = nb[nb.rrf_rank == 1].set_index("query_id").passage_id
    relabel = sum(top[q] != seed_of[q] for q in seed_of) / len(seed_of)
    assert row.split()[6:8] == [f"{found.mean():.2f}", f"{relabel:.2f}"]

@pytest.mark.assets
def test_every_neighbour_keeps_all_scores_and_consistent_ranks(built):
    db, ds, _ = built
    nb = fret_store.fret_neighbours_frame(db, ds)
    for _, g in nb.groupby("query_id"):
        for col in ("retriever_rank", "ql_rank", "rc_rank", "rc_norm_rank", "rrf_rank"):
            assert sorted(g[col]) == list(range(1, CFG.n_neighbours + 1))
        for score in ("ql", "rc", "rc_norm"):
            best = g.sort_values(f"{score}_rank")[f"{score}_score"].tolist()
            assert best == sorted(best, reverse=True)
        assert ((g["rc_score"] < g["rc_norm_score"]) & (g["rc_norm_score"] < 0)).all()
        fused = (1 / g["ql_rank"] + 1 / g["rc_rank"]).tolist()
        assert g["rrf_score"].tolist() == pytest.approx(fused)


@pytest.mark.assets
def test_remining_every_strategy_without_the_llm(built, tmp_path):
    db, ds, _ = built
    nb = fret_store.fret_neighbours_frame(db, ds)
    rank_of = {(r.query_id, r.passage_id): r.rrf_rank for r in nb.itertuples()}
    for positive in ("seed", "p1"):
        for negative in ("none", "random", "lowest", "range:2-3"):
            ex = fret.mine(ds, positive, negative, db_path=db)
            assert len(ex) == nb["query_id"].nunique()
            for r in ex.itertuples():
                if positive == "seed":
                    assert r.positive_id == r.seed_id
                else:
                    assert rank_of[(r.query_id, r.positive_id)] == 1
                neg = r.negative_id if isinstance(r.negative_id, str) else None
                assert neg != r.positive_id
                if negative == "none":
                    assert neg is None
                elif negative == "lowest":
                    others = [k for (q, p), k in rank_of.items()
                              if q == r.query_id and p != r.positive_id]
                    assert rank_of[(r.query_id, neg)] == max(others)
                elif negative == "range:2-3" and neg is not None:
                    assert 2 <= rank_of[(r.query_id, neg)] <= 3
    again = fret.mine(ds, "p1", "random", db_path=db)
    assert again["negative_id"].tolist() == fret.mine(ds, "p1", "random", db_path=db)[
        "negative_id"].tolist()
    out = tmp_path / "train.jsonl"
    n = fret.export_training_jsonl(ds, out, positive="p1", negative="lowest", db_path=db)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == len(rows) > 0
    assert set(rows[0]) == {"id", "task", "task_type", "query", "positive", "positive_title",
                            "positive_id", "negative", "negative_title", "negative_id",
                            "source", "positive_score", "negative_score", "neighbour_scores"}
    assert all(r["source"] == "fret" and r["query"] and r["positive"] for r in rows)
    with pytest.raises(InputError, match="negative strategy"):
        fret.mine(ds, "p1", "range:5-2", db_path=db)


def test_rrf_and_ranks_on_hand_computed_example():
    assert ranks([0.2, 0.9, 0.5]) == [3, 1, 2]
    assert ranks([0.5, 0.5, 0.1], tiebreak=[2, 1, 3]) == [2, 1, 3]
    ql, rc = [1, 2, 3], [3, 1, 2]
    assert rrf([ql, rc]) == pytest.approx([1 + 1 / 3, 1 / 2 + 1, 1 / 3 + 1 / 2])
    assert rrf([ql, rc], k=60) == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61,
                                                 1 / 63 + 1 / 62])
    assert ranks(rrf([ql, rc])) == [2, 1, 3]
    rng = __import__("random").Random(0)
    nbrs = [("a", 2), ("s", 1), ("c", 3), ("d", 4)]
    assert mine("s", nbrs, "p1", "lowest", rng) == ("s", "d")
    assert mine("x", nbrs, "seed", "lowest", rng) == ("x", "d")
    assert mine("s", nbrs, "p1", "range:4-9", rng) == ("s", "d")
    assert mine("s", nbrs, "p1", "none", rng) == ("s", None)


@pytest.mark.assets
@pytest.mark.slow
def test_query_likelihood_ranks_the_true_passage_first(llm):
    corpus = {p.id: p for p in seed_passages(limit=300, seed=0)}
    apollo = next(p for p in corpus.values() if p.title.startswith("Apollo 11: Splashdown"))
    others = [p for p in corpus.values() if p.source != "wikipedia"][:3]
    query = "where did the Apollo 11 astronauts land when they came back to Earth"
    ql = score_pairs(llm, [(p.text, query) for p in [apollo] + others])["ql"]
    assert ranks(ql)[0] == 1


@pytest.mark.assets
def test_bad_inputs_fail_clearly_and_store_nothing(tmp_path, llm):
    db = tmp_path / "bad.duckdb"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases = [
        (dataclasses.replace(CFG, sources=[f"jsonl:{empty}"]), "empty"),
        (dataclasses.replace(CFG, n_seeds=61), "larger than the seed corpus"),
        (dataclasses.replace(CFG, n_neighbours=500), "larger than the corpus"),
        (dataclasses.replace(CFG, max_new_tokens=1, gen_attempts=1), "no parseable"),
        (dataclasses.replace(CFG, generation="keywords"), "unknown fret.generation 'keywords'"),
        # an LLM computing in another dtype than the config says would mislabel its scores
        (dataclasses.replace(CFG, llm_dtype="float32" if llm.dtype == "bfloat16"
                             else "bfloat16"), "wrong dataset id"),
    ]
    for cfg, message in cases:
        with pytest.raises(InputError, match=message):
            fret.build(cfg, db_path=db, llm=llm, show_progress=False)
    assert not db.exists() or fret_store.fret_datasets_frame(db).empty


def test_dataset_id_names_the_compute_dtype():
    ids = {d: fret.dataset_id(dataclasses.replace(CFG, llm_dtype=d)) for d in
           ("float32", "bfloat16")}
    assert ids["float32"] != ids["bfloat16"]
    from gecko_bench.fret.pipeline import compute_dtype

    # auto names what it resolves to on the device (bfloat16 on a CUDA GPU that has it)
    assert fret.dataset_id(CFG, device="cuda") == ids[compute_dtype(CFG, "cuda")]
    with pytest.raises(InputError, match="unknown LLM dtype"):
        fret.dataset_id(dataclasses.replace(CFG, llm_dtype="float16"))


@pytest.mark.assets
def test_questions_generation_writes_questions_for_one_fixed_task(llm):
    from gecko_bench.fret import prompts as fret_prompts
    from gecko_bench.fret.pipeline import _identity, generate

    cfg = dataclasses.replace(CFG, generation="questions", queries_per_seed=2, max_new_tokens=32)
    seeds = list(enumerate(seed_passages(limit=3, seed=0)))
    prompts: list[str] = []

    class Recording:
        def generate(self, batch, **kw):
            prompts.extend(batch)
            assert kw["stop"] == ("\n",)  # one line: the question
            return llm.generate(batch, **kw)

    out = generate(Recording(), seeds, cfg, gen_seed=0, seen=set())
    assert len(prompts) >= 6 and all(p.endswith("\nQuestion:") for p in prompts)
    assert prompts[0] == prompts[1] != prompts[2]  # a seed's replicas: one prompt, two samples
    assert out.queries, out.rejects
    assert {(g.task, g.task_type) for g in out.queries} == {
        (fret_prompts.QUESTION_TASK, "question answering")}
    assert all("\n" not in g.query and g.query for g in out.queries)
    # the questions style is a dataset of its own; the Gecko default keeps every earlier id
    assert fret.dataset_id(cfg) != fret.dataset_id(dataclasses.replace(cfg, generation="gecko"))
    assert "generation" not in _identity(CFG, ("llm",), "cpu")


def test_german_questions_prompt_is_german_and_a_dataset_of_its_own():
    """fret.generation=questions-de (-fr): the questions prompt written in German (French); a
    small LLM answers English shots with English questions whatever the passage's language."""
    from gecko_bench.fret import prompts as fret_prompts

    de = fret_prompts.question_prompt("Debian ist ein freies Betriebssystem.", "questions-de")
    assert de.startswith("Auf jeden Abschnitt unten folgt eine Frage")
    assert de.endswith("\nAbschnitt: Debian ist ein freies Betriebssystem.\nFrage:")
    assert de.count("\nFrage: ") == 3 and "Question" not in de
    # the English one as before
    assert fret_prompts.question_prompt("x").endswith("\nPassage: x\nQuestion:")
    ids = {fret.dataset_id(dataclasses.replace(CFG, generation=g))
           for g in fret_prompts.GENERATIONS}
    assert len(ids) == len(fret_prompts.GENERATIONS) == 4
    assert fret_prompts.question_prompt("x", "questions-fr").startswith("Chaque passage ci-dessous")
    with pytest.raises(InputError, match="valid: gecko, questions, questions-de, questions-fr"):
        fret.dataset_id(dataclasses.replace(CFG, generation="questions-xx"))


def test_question_parsing_takes_the_first_line():
    from gecko_bench.fret import prompts as fret_prompts

    assert fret_prompts.parse_question(" How do I renew a book?\nPassage: x") == (
        fret_prompts.QUESTION_TASK, "How do I renew a book?")
    assert fret_prompts.parse_question("\n  \n") is None


@pytest.mark.assets
def test_overlap_guard_fails_a_run_seeded_with_eval_text(tmp_path, llm):
    from gecko_bench.corpora.debian_faq import faq_entries

    answer = next(e.answer for e in faq_entries("en") if len(e.answer.split()) >= 60)
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "faq", "text": " ".join(answer.split()[:200])}) + "\n")
    cfg = dataclasses.replace(CFG, sources=["wikipedia", f"jsonl:{seeds}"], n_seeds=2,
                              corpus_size=None)
    with pytest.raises(InputError, match="overlap the evaluation data"):
        fret.build(cfg, db_path=tmp_path / "g.duckdb", llm=llm, show_progress=False)
    assert not (tmp_path / "g.duckdb").exists()


def test_seed_is_never_the_hard_negative_when_p1_is_not_the_seed():
    """The seed is relevant to its own query by construction: never a negative (issue 15.5)."""
    nbrs = [("a", 1), ("b", 2), ("c", 3), ("s", 4)]  # the seed ranked last by RRF
    rng = __import__("random").Random(0)
    assert mine("s", nbrs, "p1", "lowest", rng) == ("a", "c")
    assert {mine("s", nbrs, "p1", "random", rng)[1] for _ in range(50)} == {"b", "c"}
    assert {mine("s", nbrs, "p1", "range:3-4", rng)[1] for _ in range(20)} == {"c"}
    assert mine("s", nbrs, "p1", "range:4-4", rng) == ("a", None)
    assert mine("s", [("a", 1), ("s", 2)], "p1", "lowest", rng) == ("a", None)
    assert mine("s", nbrs, "p1", "none", rng) == ("a", None)
    # positive = seed: the seed is the positive, so it is excluded as before
    assert mine("s", nbrs, "seed", "lowest", rng) == ("s", "c")


def _one_batch(db, ds="fret-old", rc_norm=(-0.2, -0.9)):
    meta = {"dataset_id": ds, "llm": "x", "retriever": "y", "n_seeds": 1, "n_neighbours": 2,
            "n_shards": 1, "rrf_k": 0.0, "config": {}}
    passage = dict(title="", source="t", licence="")
    neighbour = dict(query_id=f"{ds}:s", rrf_score=1.5)
    rows = {"fret_passages": [dict(passage, passage_id="s", text="seed text", seed_index=0),
                              dict(passage, passage_id="o", text="other", seed_index=None)],
            "fret_queries": [dict(query_id=f"{ds}:s", seed_id="s", shard=0, batch_index=0,
                                  attempt=0, task="task", task_type="qa", example_type="qa",
                                  query="a query")],
            "fret_rejects": [],
            "fret_neighbours": [
                dict(neighbour, passage_id="s", is_seed=True, retriever_rank=1,
                     retriever_score=0.9, ql_score=-1.0, ql_rank=1, rc_score=-2.0, rc_rank=2,
                     rrf_rank=1, rc_norm_score=rc_norm[0], rc_norm_rank=1),
                dict(neighbour, passage_id="o", is_seed=False, retriever_rank=2,
                     retriever_score=0.5, ql_score=-3.0, ql_rank=2, rc_score=-1.0, rc_rank=1,
                     rrf_rank=2, rc_norm_score=rc_norm[1], rc_norm_rank=2)]}
    fret_store.write_batch(db, meta, {"shard": 0, "batch_index": 0, "n_seeds": 1, "n_queries": 1,
                             "n_rejects": 0, "seconds": 0.1}, rows)


def test_rc_norm_columns_are_added_to_an_older_file_and_merge_by_name(tmp_path):
    """A file whose fret_neighbours predates rc_norm_*: readers see NULL, the next write adds the
    columns (ALTER ... ADD COLUMN IF NOT EXISTS), merge copies an old shard by column name."""
    old = tmp_path / "old.duckdb"
    _one_batch(old)
    con = duckdb.connect(str(old))
    con.execute("ALTER TABLE fret_neighbours DROP COLUMN rc_norm_rank")
    con.execute("ALTER TABLE fret_neighbours DROP COLUMN rc_norm_score")
    con.close()
    nb = fret_store.fret_neighbours_frame(old, "fret-old")  # read-only: no column yet, NULLs
    assert nb["rc_norm_score"].isna().all() and len(nb) == 2
    new = tmp_path / "new.duckdb"
    _one_batch(new, "fret-new")
    added = fret_store.merge([str(old)], new)
    assert added["fret_neighbours"] == 2
    merged = fret_store.fret_neighbours_frame(new, "fret-old")
    assert merged["rc_norm_score"].isna().all()
    assert fret_store.fret_neighbours_frame(new, "fret-new")["rc_norm_score"].tolist() == [
        -0.2, -0.9]
    _one_batch(old, "fret-again")  # a write upgrades the old file in place
    assert fret_store.fret_neighbours_frame(old, "fret-again")["rc_norm_score"].tolist() == [
        -0.2, -0.9]


def test_rankers_setting_decides_the_fusion_and_the_dataset_id():
    from gecko_bench.fret.pipeline import rank_neighbours

    scores = {"ql": [-1.0, -0.5, -2.0, -0.1], "rc": [-3.0, -1.0, -0.2, -2.0],
              "rc_norm": [-0.1, -0.9, -0.3, -0.7]}
    sims = [0.9, 0.8, 0.7, 0.6]
    default = rank_neighbours(sims, scores, 0.0)
    assert default["rrf"] == pytest.approx(rrf([default["ql_rank"], default["rc_rank"]]))
    only_ql = rank_neighbours(sims, scores, 0.0, ["ql"])
    assert only_ql["rrf_rank"] == only_ql["ql_rank"] == [3, 2, 4, 1]
    mixed = rank_neighbours(sims, scores, 0.0, ["ql", "rc_norm", "retriever"])
    # ql ranks [3,2,4,1], rc_norm ranks [1,4,2,3], retriever [1,2,3,4]
    assert mixed["rrf"] == pytest.approx([1/3 + 1 + 1, 1/2 + 1/4 + 1/2, 1/4 + 1/2 + 1/3,
                                          1 + 1/3 + 1/4])
    assert mixed["rrf_rank"] == [1, 3, 4, 2]
    base = fret.dataset_id(CFG)
    assert fret.dataset_id(dataclasses.replace(CFG, rankers=["ql", "rc"])) == base
    ids = {fret.dataset_id(dataclasses.replace(CFG, rankers=r))
           for r in (["ql"], ["ql", "rc_norm"], ["rc_norm", "ql"], ["ql", "retriever"])}
    assert len(ids) == 4 and base not in ids
    for bad, message in ((["ql", "bm25"], "unknown ranker"), ([], "at least one"),
                         (["ql", "ql"], "twice")):
        with pytest.raises(InputError, match=message):
            fret.dataset_id(dataclasses.replace(CFG, rankers=bad))


class _NoLLM(__import__("gecko_bench.llm", fromlist=["LLM"]).LLM):
    """Fails the test on any LLM call: derived datasets must come from stored scores alone."""

    def generate(self, *a, **k):
        raise AssertionError("the LLM was asked to generate")

    def token_logprobs(self, *a, **k):
        raise AssertionError("the LLM was asked to score")


def _seed_ranks(db, ds):
    nb = fret_store.fret_neighbours_frame(db, ds)
    out = {}
    for q in fret_store.fret_queries_frame(db, ds).itertuples():
        row = nb[(nb.query_id == q.query_id) & nb.is_seed]
        out[q.seed_id] = (int(row.retriever_rank.iloc[0]), int(row.rrf_rank.iloc[0])) \
            if len(row) else None
    return out


@pytest.mark.assets
def test_rankers_and_filter_derive_from_stored_scores_without_the_llm(built):
    db, ds, _ = built
    source = fret_store.fret_neighbours_frame(db, ds)
    queries = fret_store.fret_queries_frame(db, ds)
    ql_only = fret.build(dataclasses.replace(CFG, rankers=["ql"]), db_path=db, llm=_NoLLM(),
                         show_progress=False)
    assert ql_only not in (ds, fret.dataset_id(CFG))
    nb = fret_store.fret_neighbours_frame(db, ql_only)
    assert (nb["rrf_rank"] == nb["ql_rank"]).all()
    assert sorted(nb["ql_score"]) == sorted(source["ql_score"])  # the stored doubles, reused
    assert fret_store.fret_queries_frame(db, ql_only)["query"].tolist() == queries["query"].tolist()

    ranks_of = _seed_ranks(db, ds)
    found = sorted(r[0] for r in ranks_of.values() if r)
    for spec, keep in [
        (f"retriever:{found[len(found) // 2] if found else 1}",
         lambda r, k: r is not None and r[0] <= k[0]),
        ("retriever:4+teacher:1", lambda r, k: r is not None and r[1] <= 1),
    ]:
        ks = [int(part.split(":")[1]) for part in spec.split("+")]
        expected = {s for s, r in ranks_of.items() if keep(r, ks)}
        cfg = dataclasses.replace(CFG, filter=spec)
        if not expected:
            with pytest.raises(InputError, match="keeps no query"):
                fret.build(cfg, db_path=db, llm=_NoLLM(), show_progress=False)
            continue
        got = fret.build(cfg, db_path=db, llm=_NoLLM(), show_progress=False)
        kept = fret_store.fret_queries_frame(db, got)
        assert set(kept["seed_id"]) == expected
        rejects = fret_store.fret_rejects_frame(db, got)
        dropped = rejects[rejects["reason"].str.startswith("filter:")]
        assert set(dropped["seed_id"]) == set(queries["seed_id"]) - expected
        by_seed = dict(zip(queries["seed_id"], queries["query"]))
        assert all(r.raw_output == by_seed[r.seed_id] for r in dropped.itertuples())
        assert len(rejects) - len(dropped) == len(fret_store.fret_rejects_frame(db, ds))
        row = fret_store.fret_datasets_frame(db).set_index("dataset_id").loc[got]
        assert row.status == "complete" and row.n_queries == len(expected)
        assert json.loads(row.config)["derived_from"] == ds
    with pytest.raises(InputError, match="fret.filter must be"):
        fret.dataset_id(dataclasses.replace(CFG, filter="retriever:0"))


class _Replay(__import__("gecko_bench.llm", fromlist=["LLM"]).LLM):
    """The real LLM, memoised: a second build with the same inputs replays its outputs (and
    fails on any input the first build did not send), so the filter path of `build` can be
    compared with derivation at the cost of one LLM build."""

    def __init__(self, llm):
        self.llm, self.name, self.dtype = llm, llm.name, llm.dtype
        self.memo: dict = {}
        self.frozen = False

    def _get(self, key, compute):
        if key not in self.memo:
            assert not self.frozen, f"new LLM input in replay: {key[0]}"
            self.memo[key] = compute()
        return self.memo[key]

    def generate(self, prompts, max_new_tokens=64, temperature=0.7, seed=0, stop=("\n\n",)):
        return self._get(("gen", tuple(prompts), max_new_tokens, temperature, seed, tuple(stop)),
                         lambda: self.llm.generate(prompts, max_new_tokens, temperature, seed,
                                                   stop))

    def token_logprobs(self, prompts, continuations, prefix=""):
        return self._get(("tok", tuple(prompts), tuple(continuations), prefix),
                         lambda: self.llm.token_logprobs(prompts, continuations, prefix))

    def choice_logprobs(self, prompts, choices, prefix=""):
        return self._get(("choice", tuple(prompts), tuple(choices), prefix),
                         lambda: self.llm.choice_logprobs(prompts, choices, prefix))


def _built_equals_derived(cfg, db, replay, tmp_path) -> str:
    """Build `cfg` in `db` from scratch with the (frozen) replay and derive it from a copy of
    `db` without any LLM; assert both store the same id and rows; return the id."""
    import shutil

    copy = tmp_path / "derived.duckdb"
    shutil.copy(db, copy)
    direct = fret.build(cfg, db_path=db, llm=replay, show_progress=False, derive_scores=False)
    derived = fret.build(cfg, db_path=copy, llm=_NoLLM(), show_progress=False)
    assert direct == derived
    for frame in (fret_store.fret_queries_frame, fret_store.fret_rejects_frame,
                  fret_store.fret_neighbours_frame):
        assert frame(db, direct).equals(frame(copy, derived)), frame.__name__
    return direct


@pytest.mark.assets
@pytest.mark.slow
def test_filtered_build_equals_the_filter_applied_to_stored_scores(tmp_path, llm):
    """The round-trip filter inside a build and derived from stored scores (no LLM) keep the
    same queries and record the same rejects (issue 15.4)."""
    cfg = dataclasses.replace(CFG, n_seeds=2, batch_size=2)
    replay = _Replay(llm)
    db = tmp_path / "a.duckdb"
    base = fret.build(cfg, db_path=db, llm=replay, show_progress=False)
    replay.frozen = True
    ranks_of = _seed_ranks(db, base)
    found = sorted(r[0] for r in ranks_of.values() if r) or [1]
    spec = f"retriever:{found[0]}+teacher:{cfg.n_neighbours}"
    direct = _built_equals_derived(dataclasses.replace(cfg, filter=spec), db, replay, tmp_path)
    kept = set(fret_store.fret_queries_frame(db, direct)["seed_id"])
    assert kept == {s for s, r in ranks_of.items() if r and r[0] <= found[0]}
    reasons = fret_store.fret_rejects_frame(db, direct)["reason"]
    assert reasons.str.startswith("filter:retriever").sum() == len(ranks_of) - len(kept)


@pytest.mark.assets
def test_exported_rows_carry_the_teachers_scores(built, tmp_path):
    """positive_score / negative_score (the fused RRF score that chose them) and every
    neighbour's scores, for margin or KL distillation (issue 15.6)."""
    from trainers.data import read_fret_jsonl

    db, ds, _ = built
    nb = fret_store.fret_neighbours_frame(db, ds)
    for positive, negative in (("p1", "lowest"), ("seed", "none")):
        out = tmp_path / f"{positive}-{negative}.jsonl"
        fret.export_training_jsonl(ds, out, positive, negative, db_path=db)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        mined = fret.mine(ds, positive, negative, db_path=db).set_index("query_id")
        for row in rows:
            g = nb[nb.query_id == row["id"]].set_index("passage_id")
            m = mined.loc[row["id"]]
            assert (row["positive_id"], row["negative_id"]) == (
                m.positive_id, m.negative_id if isinstance(m.negative_id, str) else None)
            want_pos = g.rrf_score.get(m.positive_id)
            assert row["positive_score"] == (None if want_pos is None else
                                             pytest.approx(want_pos))
            if negative == "none":
                assert row["negative"] is None and row["negative_score"] is None
            else:
                assert row["negative_score"] == pytest.approx(g.rrf_score[m.negative_id])
                assert row["positive_score"] > row["negative_score"]
            listed = row["neighbour_scores"]
            assert [n["rrf_rank"] for n in listed] == list(range(1, CFG.n_neighbours + 1))
            for n in listed:
                stored = g.loc[n["id"]]
                for key in ("ql", "rc", "rc_norm", "rrf", "retriever"):
                    assert n[key] == pytest.approx(stored[f"{key}_score"])
                assert n["text"] == stored.text and n["is_seed"] == bool(stored.is_seed)
        examples = read_fret_jsonl(out)
        assert [e.positive_score for e in examples] == [r["positive_score"] for r in rows]
        assert [e.negative_score for e in examples] == [r["negative_score"] for r in rows]


class _GenerateOnly(_Replay):
    """The real LLM for generation; fails the test on any scoring call."""

    def token_logprobs(self, *a, **k):
        raise AssertionError("fret.llm_scoring=false asked the LLM to score")

    def choice_logprobs(self, *a, **k):
        raise AssertionError("fret.llm_scoring=false asked the LLM to score")


@pytest.mark.assets
def test_generation_only_build_scores_nothing_and_ranks_by_the_retriever(tmp_path, llm):
    """fret.llm_scoring=false (the InPars / Promptagator recipe, issue 16.6): the LLM writes
    queries and scores no neighbour, QL/RC are stored as NaN, every rank is the retriever's,
    the id is its own, and a retriever filter derives from it without the LLM."""
    import math

    cfg = dataclasses.replace(CFG, n_seeds=2, batch_size=2, llm_scoring=False,
                              rankers=["retriever"])
    for bad, message in ((dict(rankers=["ql"]), "rankers can only be"),
                         (dict(rankers=["retriever", "rc_norm"]), "rankers can only be"),
                         (dict(filter="retriever:3+teacher:2"), "cannot use teacher")):
        with pytest.raises(InputError, match=message):
            fret.dataset_id(dataclasses.replace(cfg, **bad))
    scored = dataclasses.replace(cfg, llm_scoring=True)
    assert fret.dataset_id(cfg) != fret.dataset_id(scored)
    assert fret.pipeline.scores_id(cfg) != fret.pipeline.scores_id(scored)
    assert fret.dataset_id(CFG) == fret.dataset_id(dataclasses.replace(CFG, llm_scoring=True))

    gen = _GenerateOnly(llm)
    db = tmp_path / "a.duckdb"
    ds = fret.build(cfg, db_path=db, llm=gen, show_progress=False)
    with duckdb.connect(str(db), read_only=True) as con:
        n, nan_ql, nan_rc, null_norm, same_ranks = con.execute(
            "SELECT count(*), count(*) FILTER (isnan(ql_score)), count(*) FILTER (isnan(rc_score)),"
            " count(*) FILTER (rc_norm_score IS NULL OR isnan(rc_norm_score)),"
            " count(*) FILTER (ql_rank = retriever_rank AND rc_rank = retriever_rank"
            "                  AND rrf_rank = retriever_rank AND rc_norm_rank = retriever_rank)"
            " FROM fret_neighbours WHERE dataset_id = ?", [ds]).fetchone()
    queries = fret_store.fret_queries_frame(db, ds)
    assert len(queries) >= 1 and n == len(queries) * cfg.n_neighbours
    assert nan_ql == nan_rc == null_norm == same_ranks == n
    nb = fret_store.fret_neighbours_frame(db, ds)
    mined = fret.mine(ds, "p1", "lowest", db_path=db).set_index("query_id")
    for qid, g in nb.groupby("query_id"):
        g = g.set_index("retriever_rank")
        assert mined.loc[qid].positive_id == g.loc[1].passage_id
        assert mined.loc[qid].negative_id == g.loc[cfg.n_neighbours].passage_id
    out = tmp_path / "seed.jsonl"
    fret.export_training_jsonl(ds, out, "seed", "range:2-4", db_path=db)
    for row in map(json.loads, out.read_text().splitlines()):
        assert all(s["ql"] is None and s["rc"] is None and s["rc_norm"] is None
                   for s in row["neighbour_scores"])
        assert math.isfinite(row["neighbour_scores"][0]["retriever"])

    gen.frozen = True
    spec = "retriever:2"
    _built_equals_derived(dataclasses.replace(cfg, filter=spec), db, gen, tmp_path)


class _SilentOnFirstSeed(_GenerateOnly):
    """Generation only; every output for the first prompt it is sent (the first seed's
    question prompt, the same for each of its replicas) is empty, i.e. unparseable."""

    def __init__(self, llm):
        super().__init__(llm)
        self.silenced: str | None = None

    def generate(self, prompts, *args, **kwargs):
        self.silenced = self.silenced or prompts[0]
        out = super().generate(prompts, *args, **kwargs)
        return ["" if p == self.silenced else o for p, o in zip(prompts, out)]


@pytest.mark.assets
def test_replicas_of_a_seed_rejected_at_one_attempt_are_each_stored(tmp_path, llm):
    """The sequence that killed the FAQ domain run: fret.queries_per_seed=3 and two replicas of
    one seed rejected at the same attempt had one (seed, attempt) key, a constraint error
    mid-build. Each reject now carries its replica; the round-trip filter's rejects too, built
    and derived alike."""
    cfg = dataclasses.replace(CFG, n_seeds=3, batch_size=3, generation="questions",
                              queries_per_seed=3, gen_attempts=2, max_new_tokens=32,
                              llm_scoring=False, rankers=["retriever"])
    gen = _SilentOnFirstSeed(llm)
    db = tmp_path / "a.duckdb"
    ds = fret.build(cfg, db_path=db, llm=gen, show_progress=False)
    rejects = fret_store.fret_rejects_frame(db, ds)
    silenced = rejects[rejects.reason == "unparseable"]
    assert sorted(zip(silenced.replica, silenced.attempt)) == [
        (r, a) for r in range(3) for a in range(2)]
    assert silenced.seed_id.nunique() == 1
    assert silenced.seed_id.iloc[0] not in set(fret_store.fret_queries_frame(db, ds).seed_id)

    gen.frozen = True
    direct = _built_equals_derived(dataclasses.replace(cfg, filter="retriever:1"), db, gen,
                                   tmp_path)
    dropped = fret_store.fret_rejects_frame(db, direct)
    dropped = dropped[dropped.reason.str.startswith("filter:")]
    assert dropped.groupby(["seed_id", "attempt"]).size().max() >= 2, dropped  # the case
