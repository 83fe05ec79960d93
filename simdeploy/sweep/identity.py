"""A sweep's identity, kept beside its rows in `<out>.sweep.json`, so that `--resume` never mixes two sweeps.

The identity is everything that decides which rows a sweep makes: the scenario (its content, with the
files it references), the settings, the runs per setting, the sample, the sweep seed and the simdeploy
version. Where the rows were computed (workers, Dask) is not part of it: every executor gives the same rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import simdeploy
from simdeploy.sweep.checks import shown
from simdeploy.sweep.parameters import Parameter, SweepError

_FILE_KEYS = ("file", "csv")  # scenario fields that name a file beside the scenario


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + ".sweep.json")


def scenario_digest(scenario: dict, base_dir: Path) -> str:
    """SHA-256 of the scenario (manifests inlined) and of every file it references: what the runs read."""
    digest = hashlib.sha256(json.dumps(scenario, sort_keys=True, default=str).encode())
    for name in sorted(_referenced(scenario)):
        path = base_dir / name
        if path.is_file():
            digest.update(f"\0{name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _referenced(value: object) -> set[str]:
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k in _FILE_KEYS and isinstance(v, str)}
        return found.union(*(_referenced(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value))
    return set()


def identity(
    source: str | None,
    digest: str,
    parameters: list[Parameter],
    seeds: int,
    sample: int | None,
    sweep_seed: int,
) -> dict:
    """The identity document: plain JSON values, compared field by field on --resume."""
    return {
        "simdeploy": simdeploy.__version__,
        "scenario": {"path": source, "sha256": digest},
        "settings": [{"path": p.path, "values": list(p.values)} for p in parameters],
        "seeds": seeds,
        "sample": sample,
        "sweep_seed": sweep_seed,
    }


def write_identity(out: Path, document: dict) -> None:
    """Write the sidecar next to `out`, through a temporary file: a reader never sees half of it."""
    path = sidecar_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(document, stream, indent=2)
            stream.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; the rows beside it are not
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_resume(out: Path, document: dict, has_rows: bool) -> None:
    """Refuse to add rows to `out` unless they come from the same sweep (or there are none yet)."""
    if not has_rows:
        return
    path = sidecar_path(out)
    if not path.exists():
        raise SweepError(
            f"--resume {out}: the file has rows but no {path.name} saying which sweep wrote them, so new rows "
            "could not be told apart from them; run without --resume to start over (the file is replaced)"
        )
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SweepError(f"--resume {out}: cannot read {path}: {error}") from None
    changes = differences(stored, document) if isinstance(stored, dict) else [f"{path.name} is not a JSON object"]
    if changes:
        listed = "".join(f"\n  {change}" for change in changes)
        raise SweepError(
            f"--resume {out}: the rows there come from a different sweep; run without --resume to start over, "
            f"or write to another --out. What changed:{listed}"
        )


def differences(stored: dict, wanted: dict) -> list[str]:
    """What differs between the identity the rows were written with and this sweep's, one line each."""
    changes = []
    if stored.get("simdeploy") != wanted["simdeploy"]:
        changes.append(f"simdeploy version: rows written by {stored.get('simdeploy')}, this is {wanted['simdeploy']}")
    then, now = stored.get("scenario") or {}, wanted["scenario"]
    if then.get("sha256") != now["sha256"]:
        where = now["path"] or "the scenario given"
        if then.get("path") != now["path"]:
            where = f"{then.get('path') or 'a scenario given as data'} then, {where} now"
        changes.append(f"scenario: its content (or a file it references) changed ({where})")
    changes += _settings_changes(stored.get("settings") or [], wanted["settings"])
    for key, option in (("seeds", "--seeds"), ("sample", "--sample"), ("sweep_seed", "--sweep-seed")):
        if stored.get(key) != wanted[key]:
            changes.append(f"{option}: {_text(stored.get(key))} then, {_text(wanted[key])} now")
    return changes


def _settings_changes(then: list, now: list) -> list[str]:
    before = {s.get("path"): s.get("values") for s in then if isinstance(s, dict)}
    after = {s["path"]: s["values"] for s in now}
    changes = [f"--set {path}: not swept now" for path in before if path not in after]
    changes += [f"--set {path}: not swept then" for path in after if path not in before]
    for path, values in after.items():
        if path in before and json.dumps(before[path]) != json.dumps(values):  # 1 and true differ here
            changes.append(f"--set {path}: {_values(before[path])} then, {_values(values)} now")
    if not changes and list(before) != list(after):
        changes.append(f"--set order: {', '.join(before)} then, {', '.join(after)} now")
    return changes


def _values(values: object) -> str:
    return ",".join(shown(v) for v in values) if isinstance(values, list) else str(values)


def _text(value: object) -> str:
    return "none" if value is None else str(value)
