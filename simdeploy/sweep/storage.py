"""Sweep rows on disk: appended as runs finish (so an interrupted sweep keeps them), read back to resume."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def journal_path(out: Path) -> Path:
    """Where rows are appended while the sweep runs: the CSV itself, or a partial file for Parquet."""
    return out if out.suffix == ".csv" else out.with_name(out.name + ".partial.csv")


class RowWriter:
    """Appends rows to a CSV journal, one flushed line per run."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.columns = columns
        fresh = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = path.open("a", newline="")
        self._writer = csv.DictWriter(self._stream, fieldnames=columns, extrasaction="ignore")
        if fresh:
            self._writer.writeheader()
            self._stream.flush()

    def write(self, row: dict) -> None:
        self._writer.writerow({k: _cell(v) for k, v in row.items()})
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def _cell(value: object) -> object:
    return json.dumps(value) if isinstance(value, dict | list) else value


def drop_torn_row(journal: Path) -> None:
    """Cut a last line left half-written by a killed sweep: rows end with a newline, a torn one does not."""
    if not journal.exists() or journal.stat().st_size == 0:
        return
    with journal.open("rb+") as stream:
        stream.seek(-1, os.SEEK_END)
        if stream.read(1) == b"\n":
            return
        data = journal.read_bytes()
        stream.truncate(data.rfind(b"\n") + 1)


def has_rows(out: Path) -> bool:
    """Whether `out` (or its journal) holds anything beyond a header: a file we cannot read counts as full."""
    if out.suffix == ".parquet" and out.exists() and out.stat().st_size:
        try:
            return len(pd.read_parquet(out)) > 0
        except (OSError, ValueError):
            return True
    journal = journal_path(out)
    if not journal.exists():
        return False
    with journal.open("rb") as stream:
        lines = sum(1 for line in stream if line.strip())
    return lines > 1


def done_runs(out: Path) -> set[str]:
    """Run keys already written by an earlier (possibly interrupted) sweep to this output."""
    frames = []
    if out.suffix == ".parquet" and out.exists():
        frames.append(pd.read_parquet(out, columns=["run"]))
    journal = journal_path(out)
    if journal.exists() and journal.stat().st_size:
        frames.append(pd.read_csv(journal, usecols=["run"]))
    return {key for frame in frames for key in frame["run"].dropna()}


def _as_given(values: pd.Series) -> pd.Series:
    """Settings read back from CSV: whole numbers as ints, everything else as the text given."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64")
    if numbers.notna().all():
        return numbers
    return values.astype(str)


def finish(out: Path, settings: list[str]) -> pd.DataFrame:
    """Read every row back; for Parquet, write the file and drop the journal."""
    journal = journal_path(out)
    frames = []
    if out.suffix == ".parquet" and out.exists():
        frames.append(pd.read_parquet(out))
    if journal.exists() and journal.stat().st_size:
        frames.append(pd.read_csv(journal))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column in settings:
        if column in rows:
            rows[column] = _as_given(rows[column])
    if out.suffix == ".parquet":
        _write_parquet(rows, out)
        journal.unlink(missing_ok=True)
    return rows


def _write_parquet(rows: pd.DataFrame, out: Path) -> None:
    """Through a temporary file: a sweep killed while writing leaves the journal and the last whole file."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:
        rows.to_parquet(temporary, index=False)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
