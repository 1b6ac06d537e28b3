"""Progress bars for long stages: a live rich bar on a terminal, plain lines in a log.

rich's live display prints nothing until the bar stops when output is not a terminal (``nohup``,
CI logs, ``> run.log``), so an hour-long FRet build or evaluation would look hung there. On such
outputs :class:`StageProgress` also writes ``description completed/total elapsed`` to stderr (as
tqdm does) whenever a task finishes and at most every :data:`LOG_EVERY_S` seconds in between, and
keeps rich's own display off so the bars are not dumped a second time when they stop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

LOG_EVERY_S = 30.0


class StageProgress(Progress):
    """rich Progress with the project's columns (description, bar, n/total, `extra`, elapsed)."""

    def __init__(self, *extra: ProgressColumn, log_file: TextIO | None = None,
                 **kwargs: Any) -> None:
        super().__init__(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                         *extra, TimeElapsedColumn(), **kwargs)
        self._log_file = log_file
        self._last_logged: dict[TaskID, float] = {}
        self._plain_lines = not self.disable and not self.console.is_terminal
        if self._plain_lines:
            self.disable = True  # rich's Live would print every bar's final state at stop

    def update(self, task_id: TaskID, *, advance: float | None = None,
               completed: float | None = None, **kwargs: Any) -> None:
        super().update(task_id, advance=advance, completed=completed, **kwargs)
        if advance is not None or completed is not None:
            self._log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        if not self._plain_lines:
            return
        task = self._tasks[task_id]
        now = time.monotonic()
        if not task.finished and now - self._last_logged.get(task_id, 0.0) < LOG_EVERY_S:
            return
        self._last_logged[task_id] = now
        total = f"/{task.total:g}" if task.total is not None else ""
        elapsed = task.elapsed or 0.0
        print(f"{task.description} {task.completed:g}{total} "
              f"[{int(elapsed // 60)}:{int(elapsed % 60):02d}]",
              file=self._log_file or sys.stderr, flush=True)


@contextmanager
def training_progress(what: str, console: Console | None = None,
                      ) -> Iterator[Callable[[int, int, float | None], None]]:
    """A bar for a training run: yields ``update(step, total, loss)`` for the trainers' callback."""
    with StageProgress(TextColumn("loss {task.fields[loss]}"), console=console) as progress:
        bar = progress.add_task(what, total=None, loss="-")

        def update(step: int, total: int, loss: float | None) -> None:
            progress.update(bar, completed=step, total=total,
                            loss=f"{loss:.4f}" if loss is not None else "-")

        yield update
