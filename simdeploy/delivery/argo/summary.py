"""What a run did with each Argo Rollout: phases, steps, analysis runs, and what an abort cost."""

from __future__ import annotations

import re

from simdeploy.sim.result import (
    AnalysisRun,
    ArgoRollout,
    Event,
    Measurement,
    Result,
    StepCompleted,
    requests,
    seconds,
)


def describe_step(step: dict) -> str:
    """A canary step as people write it: `setWeight: 10`, `pause: 1m`, `analysis: success-rate`."""
    return ", ".join(f"{kind}: {_describe(kind, spec)}" for kind, spec in step.items())


def _describe(kind: str, spec: object) -> str:
    if kind == "pause":
        duration = (spec or {}).get("duration") if isinstance(spec, dict) else None
        if duration is None:
            return "until promoted"
        return f"{duration}s" if isinstance(duration, int | float) else str(duration)
    if kind == "analysis" and isinstance(spec, dict):
        names = [t.get("templateName", "?") for t in spec.get("templates") or [] if isinstance(t, dict)]
        return ", ".join(names) or "no template"
    return _plain(spec)


def _plain(value: object) -> str:
    """A step's fields without Python's brackets and quotes: `weight 20, replicas 3`."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def summarize(ctl, result: Result) -> None:
    """summary.argo_rollouts.<name>: phases, steps, analysis runs and what an abort cost."""
    events = result["events"]
    rollouts: dict[str, ArgoRollout] = {}
    for rollout in ctl.store.list("Rollout"):
        name = rollout["metadata"]["name"]
        status = rollout.get("status", {})
        mine = [e for e in events if e["kind"] == "Rollout" and e["name"] == name]
        updated, aborted = _time(events, name, "RolloutUpdated"), _time(events, name, "RolloutAborted")
        completed = _time(events, name, "RolloutCompleted")
        prefix = f"{name}-"
        steps: list[StepCompleted] = [
            {"t": s["t"], "step": s["step"] + 1, "of": s["of"], "description": s["description"]}
            for s in ctl.step_history
            if s["rollout"] == name
        ]
        rollouts[name] = {
            "phase": status.get("phase"),
            "phases": [
                {"t": e["t"], "phase": e["reason"].removeprefix("Phase")}
                for e in mine
                if e["reason"].startswith("Phase")
            ],
            "steps_completed": steps,
            "current_step_index": status.get("currentStepIndex"),
            "updated_s": updated,
            "completed_s": completed,
            "aborted_s": aborted,
            "time_to_abort_s": None if aborted is None or updated is None else seconds(aborted - updated),
            "analysis_runs": [
                _analysis_run(run_name, run) for run_name, run in ctl.runs.items() if run_name.startswith(prefix)
            ],
            "requests_failed_during_update": _failed_between(
                result, updated, aborted or completed, ctl.sim.cluster.scrape_interval
            ),
        }
    result["summary"]["argo_rollouts"] = rollouts


def _analysis_run(name: str, run) -> AnalysisRun:
    measurements: list[Measurement] = [
        {
            "metric": m["metric"],
            "dry_run": m["dryRun"],
            "phase": m["phase"],
            "started_s": seconds(m["startedAt"]),
            "finished_s": seconds(m["finishedAt"]),
            "value": _tidy(m.get("value") or ""),
            "message": m.get("message") or "",
        }
        for m in run.measurements()
    ]
    return {"name": name, "phase": run.phase, "message": run.message, "measurements": measurements}


def _tidy(value: str) -> str:
    """Argo's value (`[0.0009999999999999835]`, Prometheus's float as Go prints it) with the float noise rounded off."""
    return _NOISY.sub(lambda number: repr(round(float(number.group()), 6)), value)


_NOISY = re.compile(r"\d+\.\d{7,}")


def _failed_between(result: Result, start: float | None, end: float | None, interval: float) -> float | None:
    """Failed requests in the traffic rows from the one that ends after `start` to the one that holds `end`."""
    if start is None:
        return None
    end = result["duration_s"] if end is None else end
    return requests(sum(r["errors"] for r in result["traffic"] if start < r["t"] < end + interval))


def _time(events: list[Event], name: str, reason: str) -> float | None:
    return next(
        (e["t"] for e in events if e["kind"] == "Rollout" and e["name"] == name and e["reason"] == reason), None
    )
