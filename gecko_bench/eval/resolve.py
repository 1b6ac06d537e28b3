"""Turn the eval command's task options into mteb task objects, loaded and checked.

Sources, all combinable: ``suite`` (a gecko_bench suite, ``mteb:<benchmark>``, ``miracl`` or
``miracl-full``), ``tasks`` (our task names or any mteb task name), ``beir_dir`` and
``tasks_file`` (a Python file defining mteb task classes). ``data_dir`` points mteb's own tasks
at local copies in Hugging Face layout. Every problem is an InputError raised before anything
is written.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

from gecko_bench.errors import InputError

# Real MIRACL through mteb: the hard-negatives version is the one MTEB's multilingual
# benchmarks use (smaller corpus); miracl-full is the whole Wikipedia corpus.
MIRACL_SUITES = {"miracl": "MIRACLRetrievalHardNegatives", "miracl-full": "MIRACLRetrieval"}


@dataclass
class TaskSpec:
    """One task to run and where its data came from."""

    task: object              # an mteb AbsTask
    suite: str                # suite label stored with the scores
    category: str
    source: str               # data location that decides the scores (part of the eval key)
    ours: bool                # a gecko_bench task (data built locally) rather than mteb's

    @property
    def name(self) -> str:
        """The mteb task name."""
        return self.task.metadata.name

    @property
    def revision(self) -> str | None:
        """The task's data revision (mteb metadata; ours: a hash of the pinned packages)."""
        return self.task.metadata.dataset.get("revision")

    def eval_key(self, protocol: dict, model_namespace: str) -> str:
        """Hash of everything besides the weights and dim that decides this task's scores:
        the task, its data, the model's namespace and the protocol (prompt style, cap, dtype,
        scoring version)."""
        md = self.task.metadata
        payload = {"task": md.name, "subsets": sorted(self.task.hf_subsets or []),
                   "splits": list(md.eval_splits), "source": self.source,
                   "revision": self.revision, "protocol": protocol,
                   "model": model_namespace}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _category(task) -> str:
    from gecko_bench.tasks import task_category

    return task_category(task)


def valid_suites() -> list[str]:
    """Suite names the eval command accepts (besides ``mteb:<benchmark>``)."""
    from gecko_bench.tasks import list_suites

    return list(list_suites()) + list(MIRACL_SUITES)


def _filter_langs(task, name: str, langs: list[str] | None):
    import mteb

    if not langs:
        return task
    subsets = list(task.hf_subsets or [])
    keep = [s for s in subsets if s in langs or s.split("-")[0] in langs]
    if not keep:
        raise InputError(f"task {name} has no subset for languages {', '.join(langs)}; "
                         f"its subsets: {', '.join(subsets)}")
    return mteb.get_task(name, hf_subsets=keep)


def _mteb_task(name: str, langs: list[str] | None):
    import mteb

    try:
        task = mteb.get_task(name)
    except (KeyError, ValueError) as exc:
        from gecko_bench.tasks import TASKS

        ours = list(TASKS)
        names = [t.metadata.name for t in mteb.get_tasks(exclude_superseded=False)]
        close = difflib.get_close_matches(name, ours + names, n=5)
        raise InputError(
            f"unknown task {name!r}"
            + (f" (did you mean {', '.join(close)}?)" if close else "")
            + f". Valid: gecko_bench tasks {', '.join(ours)}, or "
            + "any mteb task name (python -c 'import mteb; print(mteb.get_tasks())')"
        ) from exc
    return _filter_langs(task, name, langs)


def _suite_tasks(suite: str, langs: list[str] | None) -> list[TaskSpec]:
    import mteb

    label = suite + (f"[{','.join(langs)}]" if langs else "")
    if suite.startswith("mteb:"):
        bench_name = suite[len("mteb:"):].strip()
        try:
            bench = mteb.get_benchmark(bench_name)
        except (KeyError, ValueError) as exc:
            names = [b.name for b in mteb.get_benchmarks()]
            close = difflib.get_close_matches(bench_name, names, n=5)
            raise InputError(f"unknown mteb benchmark {bench_name!r}; "
                             f"{'did you mean: ' + ', '.join(close) if close else 'e.g. '}"
                             f"{'' if close else ', '.join(names[:8])}") from exc
        return [TaskSpec(_filter_langs(t, t.metadata.name, langs) if langs else t, label,
                         _category(t), "hub", False) for t in bench.tasks]
    if suite in MIRACL_SUITES:
        task = _mteb_task(MIRACL_SUITES[suite], langs)
        return [TaskSpec(task, label, "Retrieval", "hub", False)]
    from gecko_bench.tasks import get_suite

    try:
        tasks = get_suite(suite, langs=langs)
    except InputError as exc:
        raise InputError(f"{exc}; also valid: {', '.join(MIRACL_SUITES)}, "
                         "mteb:<benchmark name>") from exc
    return [TaskSpec(t, label, _category(t), "gecko_bench", True) for t in tasks]


def _named_task(name: str, langs: list[str] | None) -> TaskSpec:
    from gecko_bench.tasks import TASKS, get_task

    if name in TASKS:
        task = get_task(name)
        return TaskSpec(task, "tasks", _category(task), "gecko_bench", True)
    task = _mteb_task(name, langs)
    return TaskSpec(task, "tasks", _category(task), "hub", False)


def _file_tasks(path: str | Path) -> list[TaskSpec]:
    from mteb.abstasks.abstask import AbsTask

    file = Path(path)
    if not file.is_file():
        raise InputError(f"--tasks-file {file}: no such file")
    spec = importlib.util.spec_from_file_location(f"gecko_user_tasks_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(f"--tasks-file {file} failed to import: {exc}") from exc
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, AbsTask) and c.__module__ == module.__name__
               and not inspect.isabstract(c) and hasattr(c, "metadata")]
    if not classes:
        raise InputError(f"--tasks-file {file} defines no mteb task classes "
                         "(subclasses of mteb.abstasks.AbsTask with a `metadata`)")
    label = f"file:{file.stem}"
    return [TaskSpec(c(), label, _category(c()), str(file.resolve()), True) for c in classes]


def _point_at_local(spec: TaskSpec, data_dir: Path, only: bool) -> None:
    md = spec.task.metadata
    hub_path = str(md.dataset.get("path", ""))
    candidates = [data_dir / md.name, data_dir / hub_path.replace("/", "__"),
                  data_dir / hub_path.split("/")[-1]] + ([data_dir] if only else [])
    for folder in candidates:
        if folder.is_dir() and any(folder.iterdir()):
            spec.task.metadata = md.model_copy(deep=True)  # metadata is shared by the class
            spec.task.metadata.dataset["path"] = str(folder.resolve())
            spec.source = f"local:{folder.resolve()}"
            return


def resolve(suite: str | None = None, tasks: list[str] | None = None,
            langs: list[str] | None = None, data_dir: str | Path | None = None,
            beir_dir: str | Path | None = None,
            tasks_file: str | Path | None = None) -> list[TaskSpec]:
    """All requested tasks (deduplicated by name, first source wins); nothing loaded yet."""
    from gecko_bench.eval.beir_task import make_beir_task

    specs: list[TaskSpec] = []
    if suite:
        specs += _suite_tasks(suite, langs)
    for name in tasks or []:
        specs.append(_named_task(name.strip(), langs))
    if beir_dir:
        task = make_beir_task(beir_dir)
        specs.append(TaskSpec(task, f"beir:{Path(beir_dir).resolve().name}", "Retrieval",
                              f"beir:{Path(beir_dir).resolve()}", True))
    if tasks_file:
        specs += _file_tasks(tasks_file)
    if not specs:
        raise InputError("nothing to evaluate: give --suite, --tasks, --beir-dir or --tasks-file")
    seen: set[str] = set()
    unique = [s for s in specs if not (s.name in seen or seen.add(s.name))]
    if data_dir:
        root = Path(data_dir)
        if not root.is_dir():
            raise InputError(f"--data-dir {root}: no such folder")
        hub = [s for s in unique if not s.ours]
        for spec in hub:
            _point_at_local(spec, root, only=len(hub) == 1)
    return unique


def load_checked(spec: TaskSpec) -> None:
    """Load a task's data; a missing hub dataset or an empty split is one clear InputError."""
    from mteb.abstasks.aggregated_task import AbsTaskAggregate

    task = spec.task
    if isinstance(task, AbsTaskAggregate):  # mteb loads and checks its subtasks itself
        return
    if not task.data_loaded:
        try:
            task.load_data()
        except InputError:
            raise
        except Exception as exc:
            if spec.ours:
                raise
            path = task.metadata.dataset.get("path")
            raise InputError(
                f"dataset {path!r} for task {spec.name} could not be loaded ({type(exc).__name__}:"
                f" {str(exc)[:160]}). Offline, copy it in Hugging Face layout (e.g. "
                f"`huggingface-cli download --repo-type dataset {path} --local-dir "
                f"DIR/{spec.name}` on a connected machine) and pass --data-dir DIR") from exc
    _check_not_empty(spec)


def _check_not_empty(spec: TaskSpec) -> None:
    from mteb.abstasks import AbsTaskRetrieval

    task = spec.task
    if isinstance(task, AbsTaskRetrieval):
        task.convert_v1_dataset_format_to_v2(num_proc=None)
        for subset, splits in task.dataset.items():
            for split, data in splits.items():
                if split not in task.metadata.eval_splits:
                    continue
                if len(data["corpus"]) == 0 or len(data["queries"]) == 0:
                    raise InputError(f"task {spec.name} ({subset}/{split}) has an empty "
                                     f"{'corpus' if len(data['corpus']) == 0 else 'query set'}")
        return
    data = task.dataset
    if data is None or len(data) == 0:
        raise InputError(f"task {spec.name} loaded no data")
