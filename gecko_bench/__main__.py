from gecko_bench.cli import run

run()
