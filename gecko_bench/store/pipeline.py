"""Stage bookkeeping of the main job: which stages of a pipeline finished, with their outputs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gecko_bench.store.core import connect, register_tables, table_exists, transaction

register_tables({
    "pipeline_stages": """
        CREATE TABLE IF NOT EXISTS pipeline_stages (
            pipeline_id VARCHAR NOT NULL,     -- hash of the resolved profile
            stage VARCHAR NOT NULL,
            output JSON,                      -- what later stages need (ids, paths)
            seconds DOUBLE,
            finished_at TIMESTAMP NOT NULL,
            PRIMARY KEY (pipeline_id, stage)
        )""",
})


def finished_stages(pipeline_id: str, db_path: str | Path | None = None) -> dict[str, Any]:
    """Outputs of the finished stages of `pipeline_id`, by stage name."""
    path = Path(db_path) if db_path else None
    if path is not None and not path.exists():
        return {}
    try:
        with connect(db_path, read_only=True) as con:
            if not table_exists(con, "pipeline_stages"):
                return {}
            rows = con.execute("SELECT stage, output FROM pipeline_stages WHERE pipeline_id = ?",
                               [pipeline_id]).fetchall()
    except Exception as exc:  # a missing or empty file: nothing finished yet
        if "no results database" in str(exc):
            return {}
        raise
    return {stage: json.loads(output) for stage, output in rows}


def record_stage(pipeline_id: str, stage: str, output: Any, seconds: float,
                 db_path: str | Path | None = None) -> None:
    """Mark a stage finished with its output (idempotent)."""
    with transaction(db_path) as con:
        con.execute(
            "INSERT INTO pipeline_stages VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, stage) "
            "DO UPDATE SET output = excluded.output, seconds = excluded.seconds, "
            "finished_at = excluded.finished_at",
            [pipeline_id, stage, json.dumps(output), seconds,
             datetime.now(timezone.utc).replace(tzinfo=None)])
