"""Time per arm of a study run, from its manifest: where the minutes go.

Reads ``results/<name>/manifest.json`` (default: the article study) and prints, per method,
the number of cells computed in that run, their mean and total seconds, and each arm's share
of the total cell time. Cells loaded from the cache, and fits loaded from the fit store
(their cell time then holds only the prediction), are what make a rerun fast.

    python benchmarks/article.py [results/article]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(path: str = "results/article") -> None:
    manifest_path = Path(path) / "manifest.json"
    if not manifest_path.is_file():
        print(f"skip: {manifest_path} not found (run `fanlab run configs/article.yaml` first)")
        return
    manifest = json.loads(manifest_path.read_text())
    secs: dict[str, list[float]] = defaultdict(list)
    cached: dict[str, int] = defaultdict(int)
    for cell in manifest["cells"].values():
        if cell["status"] == "cached":
            cached[cell["method"]] += 1
        elif "seconds" in cell:
            secs[cell["method"]].append(float(cell["seconds"]))
    total = sum(sum(v) for v in secs.values()) or 1.0
    print(f"{manifest['name']}: wall {manifest['seconds']:.0f} s with {manifest.get('jobs', 1)} job(s); "
          f"cell time {total:.0f} s; cells {manifest['counts']}")
    print(f"{'method':<22}{'cells':>6}{'cached':>8}{'mean s':>9}{'total s':>10}{'share':>8}")
    for method in sorted(set(secs) | set(cached), key=lambda m: -sum(secs.get(m, []))):
        v = secs.get(method, [])
        mean = sum(v) / len(v) if v else float("nan")
        print(f"{method:<22}{len(v):>6}{cached.get(method, 0):>8}{mean:>9.2f}{sum(v):>10.1f}"
              f"{sum(v) / total:>8.1%}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
