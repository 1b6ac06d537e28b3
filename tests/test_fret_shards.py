"""FRet across workers: two real `fret build --shard i/2` processes at once, one of them killed
after its first stored batch and resumed, then `fret merge`: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import duckdb
import pytest
from typer.testing import CliRunner

from gecko_bench import config
from gecko_bench.cli import app
from gecko_bench.fret import dataset_id
from gecko_bench.fret.pipeline import load_corpus
from gecko_bench.store import fret as fret_store
from fret_helpers import BUILD_CLI, stored_batches

pytestmark = [pytest.mark.assets, pytest.mark.slow]
CFG = config.FretConfig(n_seeds=6, n_neighbours=4, corpus_size=60, batch_size=2, max_new_tokens=48)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
TABLES = ("fret_passages", "fret_queries", "fret_rejects", "fret_neighbours", "fret_batches")


def _shard(i: int, db) -> subprocess.Popen:
    return subprocess.Popen(BUILD_CLI + ["--shard", f"{i}/2", "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)


def _counts(db) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    dbs = [root / "s0.duckdb", root / "s1.duckdb"]
    procs = [_shard(0, dbs[0]), _shard(1, dbs[1])]
    deadline = time.monotonic() + 900
    while stored_batches(dbs[1]) < 1 and procs[1].poll() is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert procs[1].poll() is None, procs[1].stderr.read().decode()[-2000:]
    procs[1].send_signal(signal.SIGKILL)  # shard 1 dies after its first batch of two
    procs[1].wait()
    killed_at = stored_batches(dbs[1])
    resumed = subprocess.run(BUILD_CLI + ["--shard", "1/2", "--db", str(dbs[1])],
                             capture_output=True, env=ENV, timeout=900)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert procs[0].wait(timeout=900) == 0, procs[0].stderr.read().decode()[-2000:]
    return root, dbs, killed_at


def test_killed_shard_resumes_and_the_merge_loses_and_duplicates_nothing(shards):
    root, dbs, killed_at = shards
    assert killed_at == 1
    ds = dataset_id(CFG)
    for i, db in enumerate(dbs):
        row = fret_store.fret_datasets_frame(db).set_index("dataset_id").loc[ds]
        assert row.status == "partial" and row.n_shards == 2  # each file holds half the seeds
        batches = fret_store.dataset_rows(db, ds)["fret_batches"]
        assert sorted(zip(batches.shard, batches.batch_index)) == [(i, 0), (i, 1)]

    merged = root / "merged.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["fret", "merge", *map(str, dbs), "--db", str(merged)])
    assert result.exit_code == 0, result.output
    per_shard = [_counts(db) for db in dbs]
    assert _counts(merged) == {t: per_shard[0][t] + per_shard[1][t] - (t == "fret_passages") *
                               _shared_passages(dbs) for t in TABLES}

    row = fret_store.fret_datasets_frame(merged).set_index("dataset_id").loc[ds]
    assert row.status == "complete" and row.seeds_done == CFG.n_seeds
    rows = fret_store.dataset_rows(merged, ds)
    seeds = {p.id for p in load_corpus(CFG)[1]}
    with_query = rows["fret_queries"].seed_id.tolist()
    only_rejected = set(rows["fret_rejects"].seed_id) - set(with_query)
    assert len(with_query) == len(set(with_query))          # one accepted query per seed
    assert set(with_query) | only_rejected == seeds          # every seed, from one shard each
    assert not rows["fret_queries"].query_id.duplicated().any()

    before = _counts(merged)
    again = runner.invoke(app, ["fret", "merge", *map(str, dbs), "--db", str(merged)])
    assert again.exit_code == 0 and _counts(merged) == before
    assert "fret_queries=0" in again.output and "fret_neighbours=0" in again.output

    out = root / "fret.jsonl"
    exported = runner.invoke(app, ["fret", "export", ds, str(out), "--db", str(merged)])
    assert exported.exit_code == 0, exported.output
    assert len(out.read_text().splitlines()) == len(with_query)


def _shared_passages(dbs) -> int:
    """Passages stored by both shards (a neighbour of queries of both): merged once."""
    con = duckdb.connect()
    try:
        for i, db in enumerate(dbs):
            con.execute(f"ATTACH '{db}' AS s{i} (READ_ONLY)")
        return con.execute("SELECT count(*) FROM (SELECT dataset_id, passage_id FROM "
                           "s0.fret_passages INTERSECT SELECT dataset_id, passage_id FROM "
                           "s1.fret_passages)").fetchone()[0]
    finally:
        con.close()
