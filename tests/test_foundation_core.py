"""Profiles, the unified text format, the store core, provenance and CLI help."""

from __future__ import annotations

import json
import time

import pytest

from gecko_bench import config, provenance
from gecko_bench.store import (
    StoreError,
    connect,
    finish_run,
    get_model_row,
    get_run,
    recorded_run,
    start_run,
    transaction,
    upsert_model,
)
from gecko_bench.text_format import format_document, format_query


def test_profiles_resolve_and_serialise():
    tiny = config.resolve("tiny")
    assert tiny.fret.llm == "smollm2-135m" and tiny.device == "cpu"
    assert config.resolve("cpu").fret.llm == "gemma3-270m"
    assert config.resolve("gpu").device == "cuda"
    assert json.loads(json.dumps(config.as_dict(tiny)))["train"]["mrl_dims"] == [384, 256, 128, 64]
    with pytest.raises(ValueError, match="valid profiles: tiny, demo, cpu, gpu"):
        config.resolve("huge")


def test_unified_format_matches_gecko_table_7():
    assert format_query("who wrote emma", "question answering") == \
        "task: question answering | query: who wrote emma"
    assert format_document("Emma is a novel.", "Emma") == "title: Emma | text: Emma is a novel."
    assert format_document("text only") == "title: none | text: text only"
    assert format_query("who wrote emma", "question answering", unified=False) == \
        "question answering who wrote emma"
    assert format_document("Emma is a novel.", "Emma", unified=False) == "Emma Emma is a novel."


def test_store_run_lifecycle_and_models(tmp_path):
    db = tmp_path / "r.duckdb"
    run_id = start_run("eval", {"suite": "x"}, provenance.collect("cpu"), profile="tiny", db_path=db)
    finish_run(run_id, durations={"eval": 1.5}, db_path=db)
    run = get_run(run_id, db_path=db)
    assert run["status"] == "finished" and json.loads(run["durations"]) == {"eval": 1.5}
    assert json.loads(run["package_versions"])["duckdb"]
    upsert_model("abc123", "student", path="/x", base_model_id="base0", db_path=db)
    upsert_model("abc123", "student", dim=384, db_path=db)  # keeps lineage, adds dim
    row = get_model_row("abc1", db_path=db)
    assert row["base_model_id"] == "base0" and row["dim"] == 384



def test_recorded_run_finishes_or_fails_with_the_error(tmp_path):
    """The one run lifecycle: finished with the block's durations and its wall time
    (``total_s``), or failed with the error (and the exception goes on, a KeyboardInterrupt
    too)."""
    db = tmp_path / "r.duckdb"
    with recorded_run("fret", {"n_seeds": 2}, provenance.collect("cpu"), db_path=db) as run:
        assert get_run(run.run_id, db_path=db)["status"] == "running"
        run.durations["fret"] = 2.5
        time.sleep(0.2)
    done = get_run(run.run_id, db_path=db)
    durations = json.loads(done["durations"])
    assert done["status"] == "finished" and durations.pop("fret") == 2.5
    assert set(durations) == {"total_s"} and 0.2 <= durations["total_s"] < 5
    assert done["error"] is None
    for exc in (ValueError("bad seed"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with recorded_run("fret", {}, provenance.collect("cpu"), db_path=db) as failed:
                failed.durations.update(fret=1.0, total_s=9.0)  # the block's own total wins
                raise exc
        row = get_run(failed.run_id, db_path=db)
        assert row["status"] == "failed" and row["error"].startswith(type(exc).__name__)
        assert json.loads(row["durations"]) == {"fret": 1.0, "total_s": 9.0}
    assert get_run(failed.run_id, db_path=db)["error"] == "KeyboardInterrupt: "

def test_failed_transaction_leaves_no_rows(tmp_path):
    db = tmp_path / "r.duckdb"
    with pytest.raises(RuntimeError):
        with transaction(db) as con:
            con.execute("INSERT INTO models (model_id, name, created_at) VALUES ('m', 'n', now())")
            raise RuntimeError("interrupted")
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0


def test_read_only_on_missing_or_foreign_file(tmp_path):
    with pytest.raises(StoreError, match="run `gecko-bench eval`"):
        with connect(tmp_path / "none.duckdb", read_only=True):
            pass
    import duckdb

    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).close()
    with pytest.raises(StoreError, match="not a gecko_bench results database"):
        with connect(foreign, read_only=True):
            pass


@pytest.mark.assets
def test_checkpoint_id_is_weights_hash(tmp_path):
    from gecko_bench.assets import get_model, model_dir

    assert provenance.checkpoint_id(model_dir("minilm-l6")) == get_model("minilm-l6").weight_sha256
    with pytest.raises(FileNotFoundError):
        provenance.checkpoint_id(tmp_path)


def test_every_command_summary_is_one_paragraph_line():
    """Typer's command list keeps a summary's source line breaks; each must be one line."""
    import inspect

    import typer.main

    from gecko_bench.cli import app

    def walk(cmd, path):
        yield path, inspect.cleandoc(cmd.help or "").split("\n\n")[0]
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    summaries = dict((" ".join(p), s) for p, s in walk(typer.main.get_command(app), []))
    assert {"run", "experiment", "fret build"} <= summaries.keys()
    assert [p for p, s in summaries.items() if "\n" in s or not s] == []


@pytest.mark.parametrize("terminal", [False, True])
def test_stage_progress_writes_plain_lines_only_off_terminal(terminal):
    """In a log file rich's live bar is silent until the end; StageProgress prints lines there."""
    import io

    from rich.console import Console

    from gecko_bench.progress import StageProgress

    log = io.StringIO()
    console = Console(file=io.StringIO(), force_terminal=terminal)
    with StageProgress(console=console, log_file=log) as progress:
        bar = progress.add_task("FRet batch", total=3)
        progress.advance(bar)       # first step: a line
        progress.advance(bar)       # < LOG_EVERY_S later: no line
        progress.update(bar, advance=1, description="FRet done")  # finished: a line
    lines = [line.rsplit(" [", 1)[0] for line in log.getvalue().splitlines()]
    assert lines == ([] if terminal else ["FRet batch 1/3", "FRet done 3/3"])
    # Off a terminal the plain lines are the only output: rich's final dump would repeat them.
    assert ("FRet done" in console.file.getvalue()) == terminal


def test_training_progress_logs_steps_of_a_run_off_terminal(capsys):
    """The job's and experiments' training stages print step lines into a log, not silence."""
    import io

    from rich.console import Console

    from gecko_bench.progress import training_progress

    with training_progress("fine-tuning", Console(file=io.StringIO())) as update:
        update(1, 200, None)
        update(200, 200, 2.6212)
    lines = [line.rsplit(" [", 1)[0] for line in capsys.readouterr().err.splitlines()]
    assert lines == ["fine-tuning 1/200", "fine-tuning 200/200"]
