"""Bad input through the real CLI: one `error:` line naming the file:line or the key and the
accepted values, exit 2, and nothing written to the store (issue #14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from gecko_bench.errors import InputError, read_jsonl, read_tsv


def cli(*args: str, db: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m gecko_bench ARGS`` with `db` as the store; a narrow terminal on purpose."""
    env = dict(os.environ, GECKO_BENCH_DB=str(db), COLUMNS="60")
    return subprocess.run([sys.executable, "-m", "gecko_bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_error(proc: subprocess.CompletedProcess) -> str:
    """The single error line of a refused command (exit 2, no traceback)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def rows(db: Path, table: str) -> int:
    """Rows of `table` in `db` (0 when the file or table does not exist)."""
    if not db.exists():
        return 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0]
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if found else 0
    finally:
        con.close()


def beir_folder(root: Path) -> Path:
    """A small valid BEIR folder."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"d{i}", "title": "", "text": f"passage {i}"}) + "\n"
        for i in range(4)))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n" for i in range(4)))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(4)))
    return root


def replace_line(file: Path, lineno: int, text: str) -> None:
    lines = file.read_text().splitlines()
    lines[lineno - 1] = text
    file.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("name, lineno, text, expect", [
    ("corpus.jsonl", 3, '{"_id": "d2" "text": "x"}', r"corpus.jsonl:3: not valid JSON"),
    ("corpus.jsonl", 2, '{"title": "no id"}', r"corpus.jsonl:2: missing key\(s\) _id, text"),
    ("queries.jsonl", 2, '["a list"]', r"queries.jsonl:2: expected a JSON object"),
    ("qrels/test.tsv", 3, "q1\td1", r"qrels/test.tsv:3: expected 3 tab-separated columns"),
    ("qrels/test.tsv", 2, "q0\td0\thigh", r"qrels/test.tsv:2: score 'high' is not an integer"),
    ("qrels/test.tsv", 4, "q9\td0\t1", r"qrels/test.tsv:4: query 'q9' is not in queries.jsonl"),
])
def test_eval_malformed_beir_file(tmp_path, name, lineno, text, expect):
    import re

    folder = beir_folder(tmp_path / "faq")
    replace_line(folder / name, lineno, text)
    db = tmp_path / "r.duckdb"
    line = one_error(cli("eval", "--model", "minilm-l6", "--beir-dir", str(folder),
                         "--db", str(db), db=db, cwd=tmp_path))
    assert re.search(re.escape(str(folder)) + "/" + expect, line), line
    assert not db.exists()


def test_eval_malformed_beir_file_leaves_existing_store_alone(tmp_path):
    db = tmp_path / "r.duckdb"
    from gecko_bench import provenance
    from gecko_bench.store import start_run

    start_run("eval", {"suite": "x"}, provenance.collect("cpu"), db_path=db)
    folder = beir_folder(tmp_path / "faq")
    replace_line(folder / "corpus.jsonl", 1, "not json")
    one_error(cli("eval", "--model", "minilm-l6", "--beir-dir", str(folder), db=db,
                  cwd=tmp_path))
    assert rows(db, "runs") == 1 and rows(db, "scores") == 0


@pytest.mark.parametrize("args, expect", [
    (["run", "--profile", "nosuch"], ["'nosuch'", "tiny, demo, cpu, gpu"]),
    (["experiment", "dims", "--profile", "nosuch"], ["'nosuch'", "tiny, demo, cpu, gpu"]),
    (["train", "prefinetune", "--profile", "nosuch"], ["'nosuch'", "tiny, demo, cpu, gpu"]),
    (["fret", "build", "--profile", "nosuch"], ["'nosuch'", "tiny, demo, cpu, gpu"]),
    (["fret", "build", "--generation", "nope"], ["fret.generation", "'nope'", "gecko, questions"]),
    (["fret", "build", "--filter", "bogus"], ["fret.filter", "'bogus'"]),
    (["fret", "build", "--no-llm-scoring"],
     ["fret.llm_scoring=false", "[retriever]", "ql,retriever"]),
    (["run", "--set", "fret.llm_scoring=false", "--set", "fret.rankers=retriever",
      "--set", "train.loss=margin_mse"], ["train.loss=margin_mse", "fret.llm_scoring=false"]),
    (["run", "--set", "fret.generation=nope"], ["fret.generation", "'nope'", "gecko, questions"]),
    (["run", "--set", "fret.rankers=ql,nope"], ["'nope'", "fret.rankers"]),
    (["run", "--set", "fret.n_seeds=abc"], ["fret.n_seeds", "int", "'abc'"]),
    (["run", "--set", "train.mrl_dims=384,abc"], ["train.mrl_dims", "list of int", "'abc'"]),
    (["run", "--set", "train.loss=nope"], ["train.loss", "'nope'", "gecko, margin_mse"]),
    (["run", "--set", "train.task_sampling=nope"], ["train.task_sampling", "original or uniform"]),
    (["run", "--set", "train.negative=range:9-2"], ["train.negative", "range:a-b", "'range:9-2'"]),
    (["run", "--set", "train.positive=best"], ["train.positive", "seed or p1"]),
    (["run", "--set", "train.dtype=fp8"], ["fp8"]),
    (["run", "--set", "train.finetune_steps=0"], ["train.finetune_steps", "at least 1"]),
    (["run", "--set", "train.wise_ft=maybe"], ["train.wise_ft", "true or false", "'maybe'"]),
    (["run", "--set", "train.text_style=maybe"], ["train.text_style", "'maybe'",
                                                  "gecko, plain, none"]),
    (["run", "--set", "eval.max_seq_length=long"], ["eval.max_seq_length", "int or none"]),
    (["run", "--set", "nosuch.n_seeds=3"], ["'nosuch'", "fret, train, eval"]),
    (["run", "--set", "fret.nosuch=3"], ["fret.nosuch", "n_seeds", "max_new_tokens"]),
    (["run", "--set", "fret=3"], ["'fret'", "section"]),
    (["run", "--set", "fret.n_seeds"], ["fret.n_seeds", "section.field=value"]),
    (["experiment", "dims", "--set", "train.finetune_steps=1.5"],
     ["train.finetune_steps", "int", "'1.5'"]),
])
def test_bad_profile_or_override(tmp_path, args, expect):
    db = tmp_path / "r.duckdb"
    line = one_error(cli(*args, "--db", str(db), db=db, cwd=tmp_path))
    for part in expect:
        assert part in line, line
    assert not db.exists()
    assert not (tmp_path / "results").exists()


def test_finetune_malformed_training_file(tmp_path):
    good = {"id": "1", "task": "t", "task_type": "qa", "query": "q", "positive": "p",
            "positive_title": "", "negative": None, "negative_title": None, "source": "s"}
    data = tmp_path / "fret.jsonl"
    data.write_text(json.dumps(good) + "\n\n" + '{"task": "t",\n')
    db = tmp_path / "r.duckdb"
    line = one_error(cli("train", "finetune", "--init", "minilm-l6", "--fret", str(data),
                         "--out", str(tmp_path / "ck"), "--db", str(db), db=db, cwd=tmp_path))
    assert f"{data}:3: not valid JSON" in line, line
    assert not db.exists() and not (tmp_path / "ck").exists()


def _fret_shard(path: Path) -> Path:
    from datetime import datetime

    from gecko_bench.store import transaction

    path.parent.mkdir(parents=True, exist_ok=True)
    with transaction(path) as con:
        con.execute("INSERT INTO fret_datasets (dataset_id, llm, retriever, n_seeds, n_neighbours, "
                    "n_shards, rrf_k, status, created_at) VALUES ('ds1', 'llm', 'ret', 1, 2, 1, "
                    "0, 'partial', ?)", [datetime.now()])
        con.execute("INSERT INTO fret_batches VALUES ('ds1', 0, 0, 1, 1, 0, 0.1, ?)",
                    [datetime.now()])
    return path


def test_fret_merge_from_a_folder_with_a_quote(tmp_path):
    shard = _fret_shard(tmp_path / "bob's shards" / "shard'0.duckdb")
    db = tmp_path / "main.duckdb"
    proc = cli("fret", "merge", str(shard), "--db", str(db), db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert rows(db, "fret_datasets") == 1 and rows(db, "fret_batches") == 1


def test_fret_merge_bad_shard_is_one_error_and_merges_nothing(tmp_path):
    good = _fret_shard(tmp_path / "a.duckdb")
    bad = tmp_path / "b.duckdb"
    bad.write_text('{"not": "a database"}\n')
    db = tmp_path / "main.duckdb"
    line = one_error(cli("fret", "merge", str(good), str(bad), "--db", str(db), db=db,
                         cwd=tmp_path))
    assert str(bad) in line, line
    assert rows(db, "fret_datasets") == 0
    line = one_error(cli("fret", "merge", str(good), str(tmp_path / "none.duckdb"), "--db",
                         str(db), db=db, cwd=tmp_path))
    assert "none.duckdb" in line and rows(db, "fret_datasets") == 0


def test_readers_name_file_and_line(tmp_path):
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_bytes(b'{"a": 1}\n\n{"a": 2}\r\n\xff\n')
    with pytest.raises(InputError, match=r"x.jsonl:4: not UTF-8 text"):
        list(read_jsonl(jsonl))
    jsonl.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert list(read_jsonl(jsonl)) == [(1, {"a": 1}), (3, {"a": 2})]
    with pytest.raises(InputError, match=r"x.jsonl:1: missing key\(s\) b"):
        list(read_jsonl(jsonl, required=("a", "b")))
    with pytest.raises(InputError, match=r"nope.jsonl: no such file"):
        list(read_jsonl(tmp_path / "nope.jsonl"))
    tsv = tmp_path / "x.tsv"
    tsv.write_text("h1\th2\na\tb\n\nc\n")
    with pytest.raises(InputError, match=r"x.tsv:4: expected 2 tab-separated columns, got 1"):
        list(read_tsv(tsv, 2))
    assert next(read_tsv(tsv, 2, header=True)) == (2, ["a", "b"])


def test_seed_source_jsonl_names_file_and_line(tmp_path):
    from gecko_bench.corpora.seeds import seed_passages

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "a", "text": "word " * 60}) + "\n" + '{"id": "b"}\n')
    with pytest.raises(InputError, match=r"seeds.jsonl:2: missing key\(s\) text"):
        seed_passages((f"jsonl:{seeds}",))
    seeds.write_text(json.dumps({"id": "a", "text": "word " * 60}) + "\n{oops\n")
    with pytest.raises(InputError, match=r"seeds.jsonl:2: not valid JSON"):
        seed_passages((f"jsonl:{seeds}",))
