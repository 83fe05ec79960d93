"""Where sweep runs execute: in this process, in local worker processes, or on a Dask cluster."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable

from simdeploy.sweep.runner import run_task

Task = tuple[str, str, str, int, int]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_local(tasks: list, workers: int, on_row: Callable[[dict], None], function: Callable = run_task) -> None:
    """Run function(task) on `workers` processes (1: in this process); rows arrive as runs finish. `function` must
    be importable by name (a module-level function), as a pool or Dask pickles it."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            on_row(function(task))
        return
    # fork keeps the start-up cheap: workers inherit the imported package.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with context.Pool(workers) as pool:
        for row in pool.imap_unordered(function, tasks, chunksize=_chunk(len(tasks), workers)):
            on_row(row)


def run_dask(tasks: list, address: str, on_row: Callable[[dict], None], function: Callable = run_task) -> None:
    """Run function(task) on the Dask cluster whose scheduler listens at `address` (tcp://host:8786)."""
    from distributed import Client, as_completed

    with Client(address, timeout="10s") as client:
        futures = client.map(function, tasks, pure=False)
        for future in as_completed(futures):
            on_row(future.result())


def _chunk(tasks: int, workers: int) -> int:
    return max(1, min(16, tasks // (workers * 8)))
