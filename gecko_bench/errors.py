"""Exception types that mean "bad input or missing asset": the CLI prints them as one line.

Areas add their own error classes to USER_ERRORS here; anything else is a bug and keeps its
traceback.
"""

from gecko_bench.assets.fetch import AssetError
from gecko_bench.store.core import StoreError


class InputError(ValueError):
    """Malformed or unusable user input (files, names, options)."""


USER_ERRORS: tuple[type[BaseException], ...] = (AssetError, StoreError, InputError, KeyError,
                                                 FileNotFoundError)
