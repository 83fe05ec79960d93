"""What a run did with each Argo Rollout: phases, steps, analysis runs, and what an abort cost."""

from __future__ import annotations


def summarize(ctl, result: dict) -> None:
    """summary.argo_rollouts.<name>: phases, steps, analysis runs and what an abort cost."""
    events = result["events"]
    rollouts = {}
    for rollout in ctl.store.list("Rollout"):
        name = rollout["metadata"]["name"]
        status = rollout.get("status", {})
        mine = [e for e in events if e["kind"] == "Rollout" and e["name"] == name]
        updated, aborted = _time(events, name, "RolloutUpdated"), _time(events, name, "RolloutAborted")
        prefix = f"{name}-"
        rollouts[name] = {
            "phase": status.get("phase"),
            "phases": [
                {"t": e["t"], "phase": e["reason"].removeprefix("Phase")}
                for e in mine
                if e["reason"].startswith("Phase")
            ],
            "steps_completed": [
                {"t": e["t"], "step": e["message"]} for e in mine if e["reason"] == "RolloutStepCompleted"
            ],
            "current_step_index": status.get("currentStepIndex"),
            "updated_s": updated,
            "completed_s": _time(events, name, "RolloutCompleted"),
            "aborted_s": aborted,
            "time_to_abort_s": None if aborted is None or updated is None else round(aborted - updated, 3),
            "analysis_runs": [
                {"name": run_name, "phase": run.phase, "message": run.message, "measurements": run.measurements()}
                for run_name, run in ctl.runs.items()
                if run_name.startswith(prefix)
            ],
            "requests_failed_during_update": _failed_between(
                result, updated, aborted or _time(events, name, "RolloutCompleted")
            ),
        }
    result["summary"]["argo_rollouts"] = rollouts


def _failed_between(result: dict, start: float | None, end: float | None) -> float | None:
    """Failed requests in the traffic rows whose interval ends after `start` and by `end` (or the run's end)."""
    if start is None:
        return None
    end = result["duration_s"] if end is None else end
    return round(sum(r["errors"] for r in result.get("traffic", []) if start < r["t"] <= end + 15), 3)


def _time(events: list[dict], name: str, reason: str) -> float | None:
    return next(
        (e["t"] for e in events if e["kind"] == "Rollout" and e["name"] == name and e["reason"] == reason), None
    )
