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


def parse_target(spec: str) -> tuple[str, str | None]:
    """A registered target ``Task`` or ``Task:lang`` (one language of a multilingual task) as
    (task, lang)."""
    task, _, lang = spec.partition(":")
    return task, lang or None


def registered_folder(spec: str, dev_queries: int = 0) -> Path:
    """The registered retrieval task `spec` (``Task`` or ``Task:lang``) exported as a BEIR
    folder under the asset home (``corpora/``), `dev_queries` of its queries in qrels/dev.tsv;
    exported once, re-exported only when the task's data changed."""
    from gecko_bench.assets import gecko_home
    from gecko_bench.eval.beir_task import check_exportable

    task, lang = parse_target(spec)
    check_exportable(task, lang)
    name = task + (f"-{lang}" if lang else "") + (f"-dev{dev_queries}" if dev_queries else "")
    return export_target(task, gecko_home() / "corpora" / name, dev_queries, lang)


def _target_folder(target: str | Path, dev_queries: int) -> Path:
    """A BEIR folder given by path, or a registered task's export (see :func:`registered_folder`);
    one InputError when it is neither."""
    from gecko_bench.tasks.registry import TASKS

    path = Path(target).expanduser()
    if path.exists() or parse_target(str(target))[0] not in TASKS:
        if not path.exists() and "/" not in str(target):
            raise InputError(f"--corpus {target}: neither a folder nor a registered retrieval "
                             "task (Task or Task:lang, e.g. DebianFAQMultilingualRetrieval:de; "
                             "gecko-bench tasks list)")
        return path
    return registered_folder(str(target), dev_queries)


def configure(profile: config.Profile, target: str | Path) -> config.Profile:
    """Aim `profile` at a target corpus: a BEIR folder, or a registered retrieval task
    (``Task`` / ``Task:lang``, exported with ``domain.dev_queries`` dev queries). Seeds come
    from its corpus, the whole corpus is searched, its content hash is in the config (so the
    job's pipeline id is its own)."""
    folder = _target_folder(target, profile.domain.dev_queries)
    beir = BeirFolder.open(folder)
    qrels = beir.root / "qrels"
    if (qrels / "dev.tsv").is_file() and not (qrels / "test.tsv").is_file():
        raise InputError(f"--corpus {folder} has qrels/dev.tsv but no qrels/test.tsv: the dev "
                         "split is for choosing, the test split for reporting; add a test split")
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


def dev_split(profile: config.Profile) -> Path | None:
    """The target folder when it has ``qrels/dev.tsv``: fine-tuning then chooses (prompt
    style, dev checkpoint selection, WiSE-FT's a) on the target's dev queries instead of the
    held-out FRet queries; the target is reported on ``qrels/test.tsv`` only."""
    beir = folder(profile)
    if beir is None or not (beir.root / "qrels" / "dev.tsv").is_file():
        return None
    return beir.root


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


def export_target(task: str, folder: Path, dev_queries: int = 0,
                  lang: str | None = None) -> Path:
    """`task` (its language `lang`) as a BEIR folder at `folder`, re-exported when the task's
    data changed (the export is deterministic, so an unchanged task keeps its folder and its
    job's id). Written beside it and renamed, so a killed export leaves no half folder."""
    import shutil

    from gecko_bench.eval.beir_task import export_beir

    fresh = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(fresh, ignore_errors=True)
    export_beir(task, fresh, dev_queries=dev_queries, lang=lang)
    if (folder / "corpus.jsonl").exists() and \
            BeirFolder.open(folder).content_hash() == BeirFolder.open(fresh).content_hash():
        shutil.rmtree(fresh)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        fresh.rename(folder)
    return folder
