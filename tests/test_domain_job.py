"""The domain job (docs/domain.md): a registered task exported as a BEIR folder, that folder as
the FRet seed source searched in full, the overlap rule (documents allowed, queries never), and
one micro run of ``gecko-bench run --corpus`` end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest

from gecko_bench import config, domain, domain_experiment
from gecko_bench.errors import InputError
from gecko_bench.eval.beir_task import export_beir, make_beir_task, read_beir
from gecko_bench.tasks.registry import get_task

TASK = "ManPageRetrieval-tiny"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beir") / "manpages-tiny"
    counts = export_beir(TASK, folder)
    return folder, counts


@pytest.mark.assets
def test_export_round_trips_through_the_beir_reader(exported):
    folder, counts = exported
    task = get_task(TASK)
    task.load_data()
    split = task.dataset["default"]["test"]
    corpus, queries, qrels = read_beir(folder, "test")
    assert counts == {"corpus": len(split["corpus"]), "queries": len(split["queries"]),
                      "qrels": sum(len(d) for d in split["relevant_docs"].values())}
    assert (len(corpus), len(queries), len(qrels)) == (100, 50, 50)
    assert {r["id"]: r["text"] for r in split["corpus"]} == {k: v["text"]
                                                            for k, v in corpus.items()}
    assert {r["id"]: r["text"] for r in split["queries"]} == queries
    assert qrels == split["relevant_docs"]
    with pytest.raises(InputError, match="already holds corpus.jsonl"):
        export_beir(TASK, folder)
    with pytest.raises(InputError, match="Reranking"):
        export_beir("DebianFAQReranking-tiny", folder.parent / "rerank")


@pytest.fixture(scope="module")
def exported_with_dev(tmp_path_factory):
    """The same task with 10 of its 50 queries in qrels/dev.tsv."""
    folder = tmp_path_factory.mktemp("beir-dev") / "manpages-tiny"
    export_beir(TASK, folder, dev_queries=10)
    return folder


@pytest.mark.assets
def test_a_dev_split_partitions_the_queries_and_is_the_dev_problem(exported, exported_with_dev):
    from trainers.prompt_choice import dev_digest, dev_problem

    _, _, all_qrels = read_beir(exported[0], "test")
    corpus, test_q, test_qrels = read_beir(exported_with_dev, "test")
    _, dev_q, dev_qrels = read_beir(exported_with_dev, "dev")
    assert (len(dev_q), len(test_q)) == (10, 40) and not set(dev_q) & set(test_q)
    assert {**dev_qrels, **test_qrels} == all_qrels
    # the target is reported on test: make_beir_task takes test first
    assert make_beir_task(exported_with_dev).metadata.eval_splits == ["test"]
    # the dev problem is the dev queries against the whole corpus, their qrels relevant
    queries, docs, relevant = dev_problem(exported_with_dev)
    assert queries == dev_q and set(docs) == set(corpus)
    assert relevant == {q: set(rel) for q, rel in dev_qrels.items()}
    assert dev_digest(exported_with_dev).startswith("beir:")
    # a domain job on it chooses on dev; without a dev split it uses the FRet dev rows
    job = domain.configure(config.resolve("tiny"), exported_with_dev)
    assert domain.dev_split(job) == exported_with_dev.resolve()
    assert domain.dev_split(domain.configure(config.resolve("tiny"), exported[0])) is None
    with pytest.raises(InputError, match="leave at least one for test"):
        export_beir(TASK, exported_with_dev.parent / "all-dev", dev_queries=50)


@pytest.mark.assets
def test_re_splitting_the_qrels_keeps_the_fret_data_but_a_new_corpus_does_not(
        exported, exported_with_dev, tmp_path):
    import shutil

    from gecko_bench.fret.pipeline import dataset_id

    folder = tmp_path / "target"
    shutil.copytree(exported[0], folder)
    job = domain.configure(config.resolve("tiny"), folder)
    before, job_hash = dataset_id(job.fret), job.domain.corpus_hash
    shutil.rmtree(folder / "qrels")
    shutil.copytree(exported_with_dev / "qrels", folder / "qrels")
    job = domain.configure(config.resolve("tiny"), folder)
    assert dataset_id(job.fret) == before  # FRet read nothing that changed
    assert job.domain.corpus_hash != job_hash  # but it is a new job (new evaluation split)
    with open(folder / "corpus.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"_id": "extra", "title": "", "text": "one more page"}) + "\n")
    assert dataset_id(domain.configure(config.resolve("tiny"), folder).fret) != before


@pytest.mark.assets
def test_a_dev_split_without_a_test_split_is_refused(exported_with_dev, tmp_path):
    import shutil

    folder = tmp_path / "dev-only"
    shutil.copytree(exported_with_dev, folder)
    (folder / "qrels" / "test.tsv").unlink()
    with pytest.raises(InputError, match="has qrels/dev.tsv but no qrels/test.tsv"):
        domain.configure(config.resolve("tiny"), folder)


@pytest.mark.assets
def test_a_registered_target_is_exported_once_under_the_asset_home(tmp_path, monkeypatch):
    """``--corpus Task:lang`` (what the demo profile names): one language of a multilingual
    task exported with its dev split under the asset home's corpora/, reused by the next job
    (same folder, same pipeline id); names that are neither a folder nor a task are refused."""
    from gecko_bench.eval.beir_task import beir_splits
    from gecko_bench.pipeline import pipeline_id

    monkeypatch.setattr("gecko_bench.assets.gecko_home", lambda: tmp_path)  # data stays put
    profile = config.resolve("tiny")
    profile.domain.dev_queries = 8
    job = domain.configure(profile, "DebianFAQMultilingualRetrieval-tiny:de")
    folder = tmp_path / "corpora" / "DebianFAQMultilingualRetrieval-tiny-de-dev8"
    assert job.domain.corpus == str(folder.resolve()) and beir_splits(folder) == ["test", "dev"]
    _, dev_q, _ = read_beir(folder, "dev")
    _, test_q, _ = read_beir(folder, "test")
    assert (len(dev_q), len(test_q)) == (8, 22)
    assert not (tmp_path / "corpora" / (folder.name + ".tmp")).exists()
    stamp = (folder / "corpus.jsonl").stat().st_mtime_ns
    again = config.resolve("tiny")
    again.domain.dev_queries = 8
    assert pipeline_id(domain.configure(again, "DebianFAQMultilingualRetrieval-tiny:de")) == \
        pipeline_id(job)
    assert (folder / "corpus.jsonl").stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="neither a folder nor a registered retrieval task"):
        domain.configure(config.resolve("tiny"), "NoSuchTask:de")
    with pytest.raises(InputError, match="name one of its languages"):
        domain.configure(config.resolve("tiny"), "DebianFAQMultilingualRetrieval-tiny")
    with pytest.raises(InputError, match="no such folder"):
        domain.configure(config.resolve("tiny"), str(tmp_path / "missing"))


def test_the_demo_profile_is_a_domain_job_on_a_registered_target():
    from gecko_bench.eval.beir_task import check_exportable

    demo = config.resolve("demo")
    task, lang = domain.parse_target(demo.domain.corpus)
    assert (task, lang) == ("DebianFAQMultilingualRetrieval", "de")
    check_exportable(task, lang)
    assert demo.domain.dev_queries == 32 and demo.fret.generation == "questions-de"
    assert demo.fret.rankers == ["retriever"] and not demo.fret.llm_scoring


def test_run_aims_at_the_profiles_own_target(tmp_path):
    """`run --profile demo` needs no --corpus: the profile's domain.corpus is configured (here
    overridden to a name that is no target, so it fails at once, before any stage)."""
    from typer.testing import CliRunner

    from gecko_bench.cli import app

    result = CliRunner().invoke(app, ["run", "--profile", "demo", "--db",
                                      str(tmp_path / "x.duckdb"), "--set",
                                      "domain.corpus=NoSuchTask:de"])
    assert isinstance(result.exception, InputError), result.output
    assert "--corpus NoSuchTask:de: neither a folder" in str(result.exception)
    assert not (tmp_path / "x.duckdb").exists()


def test_experiment_domain_checks_language_targets_before_any_job(tmp_path):
    with pytest.raises(InputError, match="it has no 'xx'"):
        domain_experiment.run_experiment(
            config.resolve("tiny"),
            ["ManPageRetrieval-tiny", "DebianFAQMultilingualRetrieval-tiny:xx"],
            db_path=tmp_path / "x.duckdb", root=tmp_path)
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.assets
def test_export_scores_like_the_registered_task(exported, tmp_path):
    from gecko_bench.api import evaluate
    from gecko_bench.config import EvalConfig
    from gecko_bench.store.scores import scores_frame

    folder, _ = exported
    db = tmp_path / "s.duckdb"
    common = dict(config=EvalConfig(dims=[384], prompt_style="none"), db=db, progress=False,
                  use_cache=False)
    registered = evaluate("minilm-l6", [TASK], **common).run_id
    beir = evaluate("minilm-l6", beir_dir=folder, **common).run_id
    main = scores_frame(db, main_only=True)
    by_run = dict(zip(main["run_id"], main["value"]))
    assert abs(by_run[registered] - by_run[beir]) < 1e-6, main[["task", "value"]]
    assert make_beir_task(folder).metadata.main_score == "ndcg_at_10"


@pytest.mark.assets
def test_one_language_of_a_multilingual_task_exports_and_scores_like_its_subset(tmp_path):
    """A MIRACL-style task exports one language at a time (a domain job's target where the
    base is weak); the folder scores as the registered task's subset does."""
    from gecko_bench.api import evaluate
    from gecko_bench.config import EvalConfig
    from gecko_bench.store.scores import scores_frame

    multi = "DebianFAQMultilingualRetrieval-tiny"
    with pytest.raises(InputError, match=r"multilingual: name one of its languages \(de, fr, ja\)"):
        export_beir(multi, tmp_path / "none")
    with pytest.raises(InputError, match="has no 'xx'"):
        export_beir(multi, tmp_path / "xx", lang="xx")
    with pytest.raises(InputError, match="takes no language 'de'"):
        export_beir(TASK, tmp_path / "mono", lang="de")
    assert not any(tmp_path.iterdir())  # a refused export writes nothing
    folder = tmp_path / "faq-de"
    counts = export_beir(multi, folder, lang="de")
    task = get_task(multi)
    task.load_data()
    split = task.dataset["de"]["test"]
    corpus, queries, qrels = read_beir(folder, "test")
    assert (counts["corpus"], counts["queries"]) == (len(split["corpus"]), len(split["queries"]))
    assert queries == {r["id"]: r["text"] for r in split["queries"]} and qrels == split["relevant_docs"]
    db = tmp_path / "s.duckdb"
    common = dict(config=EvalConfig(dims=[384], prompt_style="none"), db=db, progress=False,
                  use_cache=False)
    registered = evaluate("minilm-l6", [multi], langs=["de"], **common).run_id
    beir = evaluate("minilm-l6", beir_dir=folder, **common).run_id
    main = scores_frame(db, main_only=True)
    got = {r.run_id: r.value for r in main.itertuples() if r.subset in ("de", "default")}
    assert abs(got[registered] - got[beir]) < 1e-6, main[["task", "subset", "value"]]


@pytest.mark.assets
def test_the_folder_is_the_seed_source_and_every_document_is_searched(exported):
    from gecko_bench.fret.pipeline import dataset_id, load_corpus

    folder, _ = exported
    p = domain.configure(config.resolve("tiny"), folder)
    assert p.fret.sources == [f"beir:{folder.resolve()}"] and p.fret.corpus_size is None
    corpus, seeds = load_corpus(p.fret)  # overlap guard passes: target documents are allowed
    assert len(corpus) == 100 and len(seeds) == p.fret.n_seeds
    assert {s.id for s in seeds} <= {c.id for c in corpus}
    assert all(c.id.startswith("beir/") for c in corpus)
    # the job and its FRet data have their own identity, which follows the folder's content
    from gecko_bench.pipeline import pipeline_id

    general = config.resolve("tiny")
    assert pipeline_id(p).startswith("domain-tiny-") and pipeline_id(p) != pipeline_id(general)
    assert dataset_id(p.fret) != dataset_id(general.fret)
    one = dataset_id(p.fret)
    p.fret.queries_per_seed = 3
    assert dataset_id(p.fret) != one


def test_neighbour_search_is_exact_over_the_whole_corpus():
    from gecko_bench.fret.neighbours import exact_index, search

    rng = np.random.default_rng(0)
    n, d = 5003, 32  # well over the old 2,000-passage cap
    emb = rng.standard_normal((n, d)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb[4000] = emb[10]  # an exact tie: the lower index ranks first
    # each query's best match is planted across the corpus, the last passage included
    planted = [0, 699, 700, 2500, 4300, n - 1]
    q = emb[planted] + 0.01 * rng.standard_normal((len(planted), d)).astype(np.float32)
    q = np.vstack([q, emb[10:11]])
    idx, sims = search(exact_index(emb), q, 10)
    full = q @ emb.T
    want = np.argsort(-full, axis=1, kind="stable")[:, :10]
    assert idx[:-1, 0].tolist() == planted and idx[-1, :2].tolist() == [10, 4000]
    assert (idx == want).all()
    assert np.allclose(sims, np.take_along_axis(full, want, axis=1), atol=1e-5)


@pytest.mark.assets
def test_target_documents_are_seeds_but_its_queries_never_train(exported, tmp_path):
    from gecko_bench.tasks import overlap_guard
    from trainers.data import Example
    from trainers.stages import _guard

    folder, _ = exported
    p = domain.configure(config.resolve("tiny"), folder)
    target = domain.target_texts(p)
    corpus, queries, _ = read_beir(folder, "test")
    docs = [d["text"] for d in corpus.values()]
    # (a) the documents are evaluation texts (the guard alone refuses them) ...
    with pytest.raises(InputError, match="overlap the evaluation data"):
        overlap_guard(docs[:3], "seeds")
    # ... and a domain job accepts them as seeds
    overlap_guard(docs, "seeds", allow=target)
    # (b) a training row holding one of the target's queries is refused, by name
    qid, query = next(iter(queries.items()))
    ok = Example("fret-x:beir/a", "find the manual page", "fret", "what does this page do",
                 docs[0], "fret", negative=docs[1])
    bad = Example("fret-x:beir/b", "find the manual page", "fret", query, docs[2], "fret")
    assert _guard([ok], "fine-tuning mixture", target)["target"] == target.name
    with pytest.raises(InputError, match=f"example 'fret-x:beir/b' \\(query\\) contains query "
                       f"'{qid}'"):
        _guard([ok, bad], "fine-tuning mixture", target)
    # a query hidden inside a longer text (a 13-word window) is refused too, and FRet rows are
    # checked file:line before training
    rows = tmp_path / "fret_all.jsonl"
    rows.write_text(json.dumps({"id": "a", "query": "how do I list files", "positive": docs[0],
                                "negative": None}) + "\n"
                    + json.dumps({"id": "b", "query": query.upper() + "!",  # normalized equal
                                  "positive": docs[1], "negative": None}) + "\n")
    with pytest.raises(InputError, match=rf"fret_all.jsonl:2 query contains query '{qid}'"):
        domain.check_fret_rows(rows, target)
    assert domain.check_fret_rows(_first(rows, tmp_path),
                                  target) == 1
    # a long query (13+ words) is also found inside a longer text, by its 13-word windows
    from gecko_bench.tasks.overlap import TargetTexts

    words = "the quick brown fox jumps over the lazy dog while the cat sleeps soundly today"
    synthetic = TargetTexts("t", docs, {"q1": words, **queries})
    assert synthetic.query_of("see also: " + words + " and more") == "q1"
    assert synthetic.query_of(docs[0]) is None
    # a target document that quotes a query (the FAQ's paragraphs cite other questions) is
    # still the corpus and may be trained on; the same quote in any other text is refused
    quoting = "as the next section explains, " + words + "."
    with_quote = TargetTexts("t", [*docs, quoting], {"q1": words})
    with_quote.refuse_queries([("positive", quoting.upper())], "FRet rows")
    with pytest.raises(InputError, match="query 'q1'"):
        with_quote.refuse_queries([("positive", quoting + " More.")], "FRet rows")
    # the general job's guard (no target) is unchanged: pre-finetune-style text passes
    overlap_guard(["an ordinary sentence about walking the dog in the park"], "pairs")


class _StubLLM:
    """Answers each generation prompt with a query naming the prompt's few-shot rotation."""

    def generate(self, prompts, **_):
        return [f" find a manual page\nQuery: which command variant {zlib.crc32(p.encode()) % 10_000} applies"
                for p in prompts]


def test_several_queries_per_seed_stay_together_and_target_queries_are_rejected(tmp_path):
    from gecko_bench.corpora.seeds import Passage
    from gecko_bench.fret.pipeline import generate
    from gecko_bench.tasks.overlap import TargetTexts
    from trainers.data import split_dev

    cfg = config.FretConfig(queries_per_seed=3)
    seeds = [(i, Passage(f"beir/d{i}", "", f"text of page {i} " * 20, "beir:x", "-"))
             for i in range(4)]
    out = generate(_StubLLM(), seeds, cfg, 0, set())
    keys = sorted(g.key for g in out.queries)
    assert keys == sorted(f"beir/d{i}{s}" for i in range(4) for s in ("", "#q1", "#q2"))
    assert len({g.query for g in out.queries}) == 12  # each replica its own prompt rotation
    # a generated query equal to a target query is rejected, never stored
    target = TargetTexts("t", [], {"q9": out.queries[0].query})
    again = generate(_StubLLM(), seeds[:1], config.FretConfig(gen_attempts=1), 0, set(), target)
    assert not again.queries and again.rejects[0][2] == "target-query"
    # the dev split keeps a seed's queries on one side
    rows = tmp_path / "all.jsonl"
    rows.write_text("".join(json.dumps({"id": f"ds:{k}"}) + "\n" for k in keys))
    split_dev(rows, 0.5, tmp_path / "t.jsonl", tmp_path / "d.jsonl")
    dev = {json.loads(x)["id"].split("#")[0] for x in (tmp_path / "d.jsonl").read_text().splitlines()}
    train = {json.loads(x)["id"].split("#")[0] for x in (tmp_path / "t.jsonl").read_text().splitlines()}
    assert dev and train and not dev & train


def _first(rows, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(rows.read_text().splitlines()[0] + "\n")
    return one


# tests/test_pipeline.py's MICRO with 3 seeds in one batch (FRet on man pages is most of the
# run), and the man-page task in the general list so that it is reported as touched.
MICRO = ["fret.n_seeds=3", "fret.n_neighbours=4", "fret.batch_size=3",
         "train.prefinetune_steps=2", "train.prefinetune_batch_size=8",
         "train.finetune_steps=2", "train.finetune_batch_size=4",
         "train.classification_per_task=4", "train.save_steps=1", "train.dev_fraction=0.5",
         "train.mrl_dims=384,64", "eval.dims=384,64",
         "eval.tasks=LeeSTS-tiny,ManPageRetrieval-tiny", "eval.baselines=minilm-l6"]


@pytest.mark.assets
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_domain_job_end_to_end(exported_with_dev, tmp_path):
    folder = exported_with_dev
    sets = [x for s in MICRO for x in ("--set", s)]
    args = [sys.executable, "-m", "gecko_bench", "run", "--profile", "tiny", *sets,
            "--corpus", str(folder), "--db", str(tmp_path / "r.duckdb"),
            "--work-dir", str(tmp_path / "work")]
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    out = done.stdout
    (tmp_path / "stdout.txt").write_text(out)  # kept for a look when an assertion fails
    report = out[out.index("stage evaluate finished"):]
    flat = " ".join(report.split())  # table titles wrap at the table's width
    # the target's own queries come first, with a CI, base and student under one protocol
    assert flat.index("Target corpus beir-manpages-tiny: student gain over minilm-l6 on its "
                      "own queries, same protocol (none prompts for both)") \
        < flat.index("Leaderboard") < flat.index("Student gain over minilm-l6")
    # task, n queries, base, student, delta, CI low, CI high
    assert re.search(r"^beir-manpages-tiny\s+40(\s+-?\d+\.\d+){5}\s*$", report, re.M), report
    # the general task built from the same man pages is touched and left out of "no harm"
    assert "touched tasks (share texts with the target corpus; left out of the gain tables " \
           "above): ManPageRetrieval-tiny" in flat
    gains = flat[flat.index("Student gain over minilm-l6"):flat.index("touched tasks (share")]
    assert "no harm: untouched tasks only" in gains
    assert "Retrieval" not in gains and "STS" in gains
    # the job kept its own id and its FRet data came from the folder
    assert "domain-tiny-" in out
    rows = [json.loads(ln) for ln in next((tmp_path / "work").glob("domain-tiny-*"))
            .joinpath("fret_all.jsonl").read_text().splitlines()]
    assert rows and all(r["id"].split(":", 1)[1].startswith("beir/") for r in rows)
    # with the target's own dev queries, no FRet query is held out of training
    trained = next((tmp_path / "work").glob("domain-tiny-*")).joinpath("fret_train.jsonl")
    assert len(trained.read_text().splitlines()) == len(rows)
    # the prompt style was chosen on the target's 10 dev queries, not on FRet rows
    from trainers.prompt_choice import dev_digest

    manifest = json.loads(next((tmp_path / "work").glob("domain-tiny-*/finetune/"
                                                        "manifest.json")).read_text())
    choice = manifest["prompt_choice"]
    assert (choice["dev_sha256"], choice["n_queries"]) == (dev_digest(folder), 10), choice
