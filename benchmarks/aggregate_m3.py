"""Time a run's aggregation (forecasts.parquet, metrics.parquet, summary.csv from its cell
files) and its peak memory, for one code or two side by side.

    python benchmarks/aggregate_m3.py RUN [--jobs 2] [--baseline SRC] [--src SRC] [--cells N]

RUN is a finished run's folder (config.yaml, cells/). Each code (a `src` folder put first on
PYTHONPATH; --src defaults to this checkout's, --baseline is the code to compare with) runs in
a fresh process: the config is parsed and expanded, the cells whose files are there are kept,
and only `aggregate` is timed, writing into a temporary folder whose cells/ links to RUN's.
Peak memory is the main process's maximum resident set and the largest worker's; CPU time is
the main process's during `aggregate` and its workers' (on a shared machine the wall time
moves with the load, the CPU time less). With two codes their results files are compared byte
for byte. Cell files of an older layout are read
as they are (their missing whole-path columns score as n/a). Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("forecasts.parquet", "metrics.parquet", "summary.csv")

INNER = r"""
import inspect, json, resource, sys, time
from pathlib import Path
import yaml
from fanlab.config import parse_config
try:
    from fanlab.engine.runner import aggregate, expand, load_all_series
    from fanlab.engine.results import cell_path
except ImportError:  # older code: the run layer's modules at the top of the package
    from fanlab.runner import aggregate, expand, load_all_series
    from fanlab.results import cell_path
run, out, jobs, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
raw = yaml.safe_load((run / "config.yaml").read_text())
raw.pop("out", None)
cfg = parse_config(raw)
cells, _ = expand(cfg, load_all_series(cfg))
cells = [c for c in cells if cell_path(out, c.key).is_file()]
cells = cells[:limit] if limit else cells
kw = {"jobs": jobs} if "jobs" in inspect.signature(aggregate).parameters else {}
def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime
before, cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, cpu(resource.RUSAGE_SELF)
t0 = time.perf_counter()
aggregate(cfg, out, cells, **kw)
wall = time.perf_counter() - t0
print(json.dumps({"cells": len(cells), "wall_s": wall, "jobs": kw.get("jobs", 1),
                  "cpu_main_s": cpu(resource.RUSAGE_SELF) - cpu0, "cpu_workers_s": cpu(resource.RUSAGE_CHILDREN),
                  "rss_before_mb": before / 1024,
                  "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(src: Path, run: Path, jobs: int, limit: int) -> tuple[dict, dict]:
    """Aggregate RUN's cells with the code in `src`; (numbers, sha256 of each results file)."""
    with tempfile.TemporaryDirectory(prefix="aggbench-") as tmp:
        out = Path(tmp)
        (out / "cells").symlink_to((run / "cells").resolve())
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-c", INNER, str(run), str(out), str(jobs), str(limit)],
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{src}: aggregation failed:\n{proc.stderr[-3000:]}")
        numbers = json.loads(proc.stdout.strip().splitlines()[-1])
        numbers["load_1min_at_start"] = load
        numbers["load_1min_at_end"] = os.getloadavg()[0]
        digests = {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in FILES if (out / f).is_file()}
    return numbers, digests


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a finished run's folder (config.yaml, cells/)")
    ap.add_argument("--jobs", type=int, default=2, help="aggregation workers of the new code (default 2)")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the code to time (default: this checkout)")
    ap.add_argument("--baseline", type=Path, help="a `src` folder of the code to compare with")
    ap.add_argument("--cells", type=int, default=0, help="only the first N cells (0: all)")
    args = ap.parse_args(argv)
    codes = ([("baseline", args.baseline)] if args.baseline else []) + [("new", args.src)]
    results = {}
    for name, src in codes:
        t = time.time()
        numbers, digests = measure(src, args.run, args.jobs, args.cells)
        results[name] = (numbers, digests)
        print(f"{name:9s} {src}: {numbers['cells']} cells, jobs {numbers['jobs']}: aggregate {numbers['wall_s']:.1f} s "
              f"(process {time.time() - t:.0f} s; CPU main {numbers['cpu_main_s']:.1f} s, workers "
              f"{numbers['cpu_workers_s']:.1f} s), peak RSS main {numbers['rss_main_mb']:.0f} MB "
              f"({numbers['rss_before_mb']:.0f} MB before aggregate: config, series), largest worker "
              f"{numbers['rss_worker_mb']:.0f} MB; load {numbers['load_1min_at_start']:.2f} -> "
              f"{numbers['load_1min_at_end']:.2f} on {os.cpu_count()} cores", flush=True)
        print("          sha256 " + ", ".join(f"{f} {d[:12]}" for f, d in digests.items()), flush=True)
    if args.baseline:
        (b, bd), (n, nd) = results["baseline"], results["new"]
        print(f"ratio     wall {b['wall_s'] / n['wall_s']:.2f}x faster, peak main RSS "
              f"{b['rss_main_mb'] / n['rss_main_mb']:.2f}x smaller")
        for f in FILES:
            print(f"{f:18s} {'identical' if bd.get(f) == nd.get(f) else 'DIFFERENT'} bytes")


if __name__ == "__main__":
    main()
