"""How long a study takes, said before it starts: `python -m fanlab.report.eta CONFIG JOBS`.

`make run` prints this line first (running this file by its path, so no part of fanlab is
imported and the line comes at once). The time is measured from the config's last complete
run where `results/<name>/manifest.json` holds one (its seconds and --jobs, scaled to `JOBS`
cores as if the cells spread evenly), else quoted from the README's configs table (as the
README words it: measured or estimated), else unknown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

QUICKSTART = "for a first look, `make quickstart` (configs/quickstart.yaml: under a minute)"


def readme_time(config: str, readme: Path) -> str | None:
    """The 'time on 2 cores' cell of `config`'s row in the README's configs table."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return None
    name = Path(config).as_posix()
    for row in text.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].strip("`") in (name, f"configs/{Path(config).name}"):
            return cells[-1].replace("`", "") or None
    return None


def measured(config: str, results: Path) -> tuple[float, int, int] | None:
    """(seconds, jobs, cells) of the config's last run that computed every cell, or None."""
    try:
        name = (yaml.safe_load(Path(config).read_text()) or {}).get("name") or Path(config).stem
        man = json.loads((results / str(name) / "manifest.json").read_text())
        counts = man.get("counts") or {}
        if counts.get("cached") or counts.get("failed") or not counts.get("done"):
            return None  # a resumed or partly failed run did not time the whole study
        return float(man["seconds"]), int(man["jobs"]), int(counts["done"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return None


def _minutes(seconds: float) -> str:
    """'12 min', or 'under a minute' (never '0 min')."""
    return "under a minute" if seconds < 60 else f"{seconds / 60:.0f} min"


def estimate(config: str, jobs: int, root: Path = Path(".")) -> str:
    """The line `make run` prints before it starts."""
    jobs = max(int(jobs), 1)
    got = measured(config, root / "results")
    if got is not None:
        seconds, then, cells = got
        scaled = seconds * then / jobs
        when = (f"{_minutes(seconds)} with --jobs {then} at its last full run ({cells} cells)"
                + (f", so about {_minutes(scaled)} on {jobs} cores" if then != jobs else ""))
    else:
        figure = readme_time(config, root / "README.md")
        when = (f"{figure} (README's configs table); this machine has {jobs} core{'s' if jobs > 1 else ''}"
                if figure else "no measured time")
    return f"{config}: {when}. Ctrl-C stops it (a rerun resumes); {QUICKSTART}, see README 'Set-up'."


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    print(estimate(sys.argv[1], int(sys.argv[2])))

