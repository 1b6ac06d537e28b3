"""``gecko-bench perf``: benchmark commands that print speed ratios against the obvious alternative.

Each area adds its own command to this group from its own CLI module
(``from gecko_bench.cli.perf import app as perf_app`` then ``@perf_app.command("eval")``).
Figures are written under ``results/perf/``.
"""

import typer

app = typer.Typer(help="Speed benchmarks: ours vs the plain alternative, same process; "
                  "figures under results/perf/.", no_args_is_help=True)
