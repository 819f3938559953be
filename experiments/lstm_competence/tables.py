"""Print the competence study's table (markdown) from results.jsonl beside this file.

    python experiments/lstm_competence/tables.py [results.jsonl]

One row per process and variant (the oracle once per process): the h = 1 MAE over the
oracle's on the same seed (mean over seeds, and the range), the CRPS skill against
climatology over h = 2..5 (mean over seeds +- its standard error), the MAE at h = 50 and 100,
and seconds per fit.
"""

import json
import sys
from pathlib import Path

import numpy as np

#: the defaults when the study's first rows ran (commit e35bcc9): what a variant that does not
#: set them used; later rows carry their run's own "defaults" (and "commit")
RUN_DEFAULTS = {"context": 200, "scaling": "last_value"}


def label(params: dict, defaults: dict | None = None) -> str:
    if not params:
        return "oracle"
    full = {**(defaults or RUN_DEFAULTS), **{k: v for k, v in params.items() if k != "head"}}
    if defaults is None and full["scaling"] == "auto":  # before 4fafef8 auto chose global or last_value
        full["scaling"] = "auto (global / last_value)"
    return ", ".join(f"{k} {v}" for k, v in full.items())


def main(path: Path) -> None:
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        r = json.loads(line)
        key = (r["process"], label(r["params"], r.get("defaults")))
        if key in seen:
            continue
        seen.add(key)
        rows.append(r)
    order = {p: i for i, p in reversed(list(enumerate(r["process"] for r in rows)))}
    rows.sort(key=lambda r: order[r["process"]])  # grouped by process, in the order each was run
    print("| process | variant | h1 MAE / oracle [range over seeds] | skill h2..5 (+- se) | MAE h50 | MAE h100 | fit s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = np.asarray(r["mae_h1_ratio"])
        s = np.asarray(r["skill_h2_5"])
        se = s.std(ddof=1) / np.sqrt(s.size)
        name = label(r["params"], r.get("defaults"))
        print(f"| {r['process']} | {name} | {ratio.mean():.3f} [{ratio.min():.3f}, {ratio.max():.3f}] | "
              f"{s.mean():+.3f} +- {se:.3f} | {r['mae'][2]:.3f} | {r['mae'][3]:.3f} | {r['fit_s']:.1f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("results.jsonl"))
