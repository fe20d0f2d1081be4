"""Plots drawn side by side: matplotlib lays text out and draws it glyph by glyph (about 1 s for a forest plot of
100 labelled studies), and a run's plots do not depend on one another. With enough to draw, a share of them goes to
a second Python process (`python -m review.drawing`, started afresh: no fork of this process, whatever threads it
runs, and no re-import of the caller's script) while this process draws the rest. A child that cannot start or
fails leaves its share to be drawn here, so the files and the errors are the same either way.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# What drawing costs, in rows (studies, safety terms) of about 10 ms each: a plot costs PLOT_ROWS rows whatever its
# size (its figure, fonts, PNG). A second process pays from PARALLEL_ROWS (about 3 s): starting one costs ~1.5 s.
PLOT_ROWS = 25
PARALLEL_ROWS = 300
MAX_PROCESSES = 4

Job = tuple[Path, str, Any, dict]  # (png path, "forest" or "safety", its data frame, the plot's options)


def draw(job: Job) -> Path:
    """Draw one plot to its file."""
    from .plots import forest_plot, safety_plot

    path, kind, data, options = job
    fig = (safety_plot if kind == "safety" else forest_plot)(data, path=path, **options)
    fig.clear()
    return path


def draw_all(jobs: Sequence[Job], processes: int | None = None) -> None:
    """Draw every job: in up to `processes` processes (default: this process's cores, at most MAX_PROCESSES)
    when they cost PARALLEL_ROWS rows or more, else one after another here."""
    size = [len(job[2]) + PLOT_ROWS for job in jobs]
    processes = min(processes or min(_cores(), MAX_PROCESSES), len(jobs))
    if processes < 2 or sum(size) < PARALLEL_ROWS:
        for job in jobs:
            draw(job)
        return
    shares: list[list[Job]] = [[] for _ in range(processes)]
    loads = [0] * processes
    for i in sorted(range(len(jobs)), key=lambda i: -size[i]):  # the largest first, each to the least loaded
        least = loads.index(min(loads))
        shares[least].append(jobs[i])
        loads[least] += size[i]
    with tempfile.TemporaryDirectory(prefix="review-plots-") as tmp:
        children = [_start(share, Path(tmp) / f"share{i}.pickle") for i, share in enumerate(shares[1:])]
        for job in shares[0]:
            draw(job)
        for child, share in zip(children, shares[1:], strict=True):
            _finish(child, share)


def _start(share: list[Job], file: Path) -> subprocess.Popen | None:
    file.write_bytes(pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL))
    package_root = str(Path(__file__).resolve().parents[1])  # importable even when run from a source checkout
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "review.drawing", str(file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:  # no interpreter to start (an embedded or frozen Python): drawn here
        return None


def _finish(child: subprocess.Popen | None, share: list[Job]) -> None:
    """Wait for a child; what it did not draw (it could not start, or failed) is drawn here, which raises the
    same error a plot's data gives in one process."""
    done = 0
    if child is not None:
        out = (child.communicate()[0] or b"").split()
        done = int(out[-1]) if out and out[-1].isdigit() else 0  # printed even when a plot failed
    for job in share[done:]:
        draw(job)


def _cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(file: str) -> int:
    """A child: draw the pickled share in `file` (written by draw_all, never a user's file), in order, and print
    how many were drawn; stop at the first that fails (the parent draws it again and raises its error)."""
    share = pickle.loads(Path(file).read_bytes())
    drawn = 0
    try:
        for job in share:
            draw(job)
            drawn += 1
    finally:
        print(drawn)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
