"""What every offline gecko_bench task shares: metadata, lazy construction, tiny variants.

A task class mixes :class:`GeckoTask` into an mteb abstask. ``build()`` returns the dataset in the
layout that abstask expects (``{subset: {split: ...}}``); :meth:`GeckoTask.load_data` fills
``self.dataset`` with it, so mteb never goes to a hub. Every split is deterministic: it depends only
on the fetched package files and :data:`SPLIT_SEED`.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from mteb.abstasks.task_metadata import TaskMetadata

from gecko_bench.assets.registry import get_source

SPLIT_SEED = 42


def source_revision(source: str) -> str:
    """A short hash of the pinned package checksums of `source`: the dataset 'revision'."""
    stamp = "\n".join(sorted(p.key + " " + p.sha256 for p in get_source(source).packages))
    return hashlib.sha256(stamp.encode()).hexdigest()[:12]


def _mteb_licence(source: str) -> str:
    """The source's licence as mteb's metadata names it (the asset registry's
    ``mteb_licence``; its exact wording stays in ``GeckoTask.licence``)."""
    licence = get_source(source).mteb_licence
    if not licence:
        raise ValueError(f"data source {source!r} has no mteb_licence in the asset registry; "
                         "a task cannot be built from it")
    return licence


def make_metadata(*, name: str, description: str, type: str, main_score: str, source: str,
                  eval_langs: list[str] | dict[str, list[str]], domains: list[str],
                  reference: str | None = None, annotations: str = "derived",
                  subtypes: list[str] | None = None) -> TaskMetadata:
    """TaskMetadata for an offline task built from registry source `source`."""
    return TaskMetadata(
        name=name, description=description, type=type, main_score=main_score,
        dataset={"path": f"gecko-bench/{source}", "revision": source_revision(source)},
        category="t2c" if type in {"Classification", "Clustering"} else "t2t",
        reference=reference, eval_splits=["test"], eval_langs=eval_langs, domains=domains,
        task_subtypes=subtypes, license=_mteb_licence(source), annotations_creators=annotations,
        dialect=[], sample_creation="found", bibtex_citation="", modalities=["text"],
    )


class GeckoTask:
    """Mixin for offline tasks; put it first in the bases, before the mteb abstask.

    Class attributes every task sets: ``metadata``, ``source`` (asset registry data source),
    ``gecko_instruction`` (the Gecko task description for the query side) and ``symmetric``
    (True: the unified format goes on both sides). ``tiny`` is set by :func:`tiny_variant`.
    """

    source: ClassVar[str]
    gecko_instruction: ClassVar[str]
    symmetric: ClassVar[bool] = True
    tiny: ClassVar[bool] = False
    # Attribute overrides for the tiny variant (e.g. fewer classifier experiments) and the
    # metadata fields it changes (e.g. fewer languages).
    tiny_overrides: ClassVar[dict[str, Any]] = {}
    tiny_metadata: ClassVar[dict[str, Any]] = {}

    @property
    def licence(self) -> str:
        return get_source(self.source).licence

    def build(self) -> dict[str, Any]:
        """The dataset, ``{hf_subset: {split: data}}`` for every subset in ``self.hf_subsets``."""
        raise NotImplementedError

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build the dataset from the fetched source files (never from a hub)."""
        if self.data_loaded:
            return
        self.dataset = self.build()
        self.data_loaded = True


def tiny_variant(cls: type) -> type:
    """A subclass of `cls` named ``<name>-tiny`` that builds its deterministic small slice."""
    meta = cls.metadata.model_copy(update={
        "name": cls.metadata.name + "-tiny",
        "description": cls.metadata.description + " Tiny deterministic subsample for CI.",
        **cls.tiny_metadata,
    })
    attrs = {"metadata": meta, "tiny": True, "__doc__": f"Tiny slice of {cls.__name__}.",
             "__module__": cls.__module__, **cls.tiny_overrides}
    return type(cls.__name__ + "Tiny", (cls,), attrs)
