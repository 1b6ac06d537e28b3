"""The results store: the only code that speaks SQL to DuckDB (see core.py)."""

from gecko_bench.store import fret  # noqa: F401  (registers its tables)
from gecko_bench.store import pipeline  # noqa: F401  (registers its tables)
from gecko_bench.store import runs  # noqa: F401  (registers its tables)
from gecko_bench.store import scores  # noqa: F401  (registers its tables)
from gecko_bench.store import training  # noqa: F401  (registers its tables)
from gecko_bench.store.core import (
    DEFAULT_DB,
    SCHEMA_VERSION,
    StoreError,
    connect,
    default_db_path,
    table_exists,
    transaction,
)
from gecko_bench.store.runs import (
    finish_run,
    get_model_row,
    get_run,
    recorded_run,
    start_run,
    upsert_model,
)

__all__ = [
    "DEFAULT_DB", "SCHEMA_VERSION", "StoreError", "connect", "default_db_path", "finish_run",
    "get_model_row", "get_run", "recorded_run", "start_run", "table_exists", "transaction",
    "upsert_model",
]
