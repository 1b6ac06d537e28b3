"""Domain adaptation: the main job aimed at a user's own corpus (docs/domain.md).

``gecko-bench run --corpus FOLDER`` turns the job into a domain job: the BEIR folder's documents
are the FRet seed source (``fret.n_seeds`` of them sampled, ``fret.queries_per_seed`` queries
each) and the neighbour pool is the whole corpus; pre-finetuning and fine-tuning run as usual;
the target's own queries (when the folder has queries and qrels) are evaluated for base and
student and reported first, then the general suite, where the tasks that share texts with the
corpus are marked as touched and left out of the "no harm" comparison.

The overlap rule: the target's documents may be trained on (they are the seeds), its queries
and qrels never. :func:`check_fret_rows` and the trainers' guard enforce it before training.
"""

from __future__ import annotations

from pathlib import Path

from gecko_bench import config
from gecko_bench.corpora.beir_folder import SOURCE_PREFIX, BeirFolder
from gecko_bench.errors import InputError, read_jsonl


def configure(profile: config.Profile, folder: str | Path) -> config.Profile:
    """Aim `profile` at the BEIR folder: seeds from its corpus, the whole corpus searched, its
    content hash in the config (so the job's pipeline id is its own)."""
    beir = BeirFolder.open(folder)
    profile.domain.corpus = str(beir.root)
    profile.domain.corpus_hash = beir.content_hash()
    profile.fret.sources = [f"{SOURCE_PREFIX}{beir.root}"]
    profile.fret.corpus_size = None  # neighbours from every passage of the target
    return profile


def folder(profile: config.Profile) -> BeirFolder | None:
    """The job's target folder, or None for the general job."""
    if not profile.domain.corpus:
        return None
    beir = BeirFolder.open(profile.domain.corpus)
    if profile.domain.corpus_hash and beir.content_hash() != profile.domain.corpus_hash:
        raise InputError(f"{beir.root} changed since this job was configured (content hash "
                         f"{beir.content_hash()}, job {profile.domain.corpus_hash}); rerun "
                         "with --corpus to start a job on the new contents")
    return beir


def target_texts(profile: config.Profile):
    """The job's :class:`~gecko_bench.tasks.overlap.TargetTexts`, or None."""
    from gecko_bench.tasks.overlap import TargetTexts

    beir = folder(profile)
    if beir is None:
        return None
    return TargetTexts(beir.name, [t for _, _, t in beir.documents()], beir.queries())


FRET_TEXT_FIELDS = ("query", "positive", "negative")


def check_fret_rows(path: str | Path, target) -> int:
    """InputError naming ``file:line`` and the field when a FRet row (the query, the positive,
    the negative or any neighbour text) holds a target query; returns the rows checked."""
    n_rows = 0
    for n, row in read_jsonl(path):
        texts = [(f"{path}:{n} {f}", row.get(f)) for f in FRET_TEXT_FIELDS]
        texts += [(f"{path}:{n} neighbour {nb.get('id')}", nb.get("text"))
                  for nb in row.get("neighbour_scores") or []]
        target.refuse_queries(((label, t) for label, t in texts if isinstance(t, str)),
                              "FRet training rows")
        n_rows += 1
    return n_rows


def touched_tasks(specs, target) -> dict[str, list[str]]:
    """{"touched": [...], "unchecked": [...]}: the gecko_bench tasks among `specs` (resolved
    TaskSpecs) with a text equal to, or sharing a 13-word window with, a target document or
    query; tasks not built here (mteb's own) are listed as unchecked."""
    from gecko_bench.tasks.overlap import task_texts

    touched, unchecked = [], []
    for spec in specs:
        if not spec.ours or not hasattr(spec.task, "build"):
            unchecked.append(spec.name)
        elif target.touches(task_texts(spec.task)):
            touched.append(spec.name)
    return {"touched": touched, "unchecked": unchecked}
