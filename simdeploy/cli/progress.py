"""A long `simdeploy run` at the terminal: progress on stderr, and Ctrl-C that stops it and keeps what was simulated."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

SHOW_AFTER = 2.0  # s of wall time: runs shorter than this print nothing extra
PLAIN_EVERY = 30.0  # s of wall time between progress lines when stderr is not a terminal (CI logs)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class RunProgress:
    """The callback Simulation.run calls between slices of simulated time.

    Once the run has taken SHOW_AFTER seconds it shows a bar (simulated time out of the duration) on
    a terminal, or a plain line every PLAIN_EVERY seconds elsewhere. After `stop()` (Ctrl-C) the next
    call raises KeyboardInterrupt, so the run stops between two events with its state whole.
    """

    def __init__(self, console: Console, duration: float, show_after: float = SHOW_AFTER, plain_every=PLAIN_EVERY):
        self.console = console
        self.duration = duration
        self.show_after = show_after
        self.plain_every = plain_every
        self.stopping = False
        self._started = time.perf_counter()
        self._next_line = max(show_after, plain_every)
        self._bar = None

    def __call__(self, now: float) -> None:
        if self.stopping:
            raise KeyboardInterrupt
        elapsed = time.perf_counter() - self._started
        if elapsed < self.show_after:
            return
        if self.console.is_terminal:
            self._show_bar(now)
        elif elapsed >= self._next_line:
            self._next_line = elapsed + self.plain_every
            share = now / self.duration if self.duration else 1.0
            line = f"simulated {_clock(now)} of {_clock(self.duration)} ({share:.0%}) in {elapsed:.0f}s"
            self.console.print(line, highlight=False, markup=False)

    def stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        """Take the bar off the terminal."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _show_bar(self, now: float) -> None:
        if self._bar is None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("simulating"),
                BarColumn(),
                TextColumn("{task.fields[clock]}"),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                auto_refresh=False,  # refreshed from here: no thread competing with the run
            )
            self._bar.add_task("run", total=self.duration, clock="")
            self._bar.start()
        clock = f"{_clock(now)} / {_clock(self.duration)}"
        self._bar.update(self._bar.task_ids[0], completed=now, clock=clock, refresh=True)


@contextlib.contextmanager
def stopping_on_ctrl_c(progress: RunProgress) -> Iterator[None]:
    """While the block runs, Ctrl-C asks the run to stop at its next slice; a second Ctrl-C stops it at once."""

    def handler(_signal, _frame) -> None:
        if progress.stopping:
            raise KeyboardInterrupt
        progress.stop()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Python's own handler stays, Ctrl-C stops at once
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def print_interrupted(simulation, console: Console, errors: Console, quiet: bool, unwritten: list[Path]) -> None:
    """What was simulated until Ctrl-C: the timeline and summary to that moment, marked as interrupted."""
    from simdeploy.report.timeline import print_run

    now = simulation.now
    console.print(
        f"-- interrupted at {_clock(now)} of {_clock(simulation.duration)}: "
        "the timeline and summary below stop there --",
        highlight=False,
        markup=False,
    )
    try:
        result = simulation.result()
    except Exception:  # a second Ctrl-C can cut an event in half: say so rather than trace back
        result = None
    if result is not None:
        result["duration_s"] = round(now, 3)  # what was simulated, for the summary's title
        result["summary"].pop("expectations", None)  # verdicts need the whole run
        print_run(result, console, quiet)
    else:
        console.print("(no summary: the run was stopped in the middle of an event)", highlight=False, markup=False)
    message = f"interrupted at {_clock(now)} (Ctrl-C)"
    if unwritten:
        message += "; not written: " + ", ".join(str(path) for path in unwritten)
    errors.print(message, highlight=False, markup=False, soft_wrap=True)


def _clock(seconds: float) -> str:
    from simdeploy.report.timeline import format_clock

    return format_clock(seconds)
