"""One rehearsal's result document read as DORA reads a deploy: detected when, rolled out when, recovered when.

From the release (the cell's `releaseAt`):
- detected: the first of an alerting rule firing, the runbook's page, an Argo Rollouts abort (canary analysis) or
  the Deployment's progress deadline exceeded;
- live: the release's rollout complete (a Deployment complete, a Rollout fully promoted);
- impact: scrape intervals whose error ratio is above 1 - availability, or whose p99 (of the version serving
  slowest) is above the SLO's;
- recovered: the end of the last interval with impact, once the service then stays within the SLO for `hold`,
  and the workload settled since the release (a Deployment's last rollout complete, a Rollout healthy or aborted);
- failed: a bad release that was detected or had impact (a bad change nobody could tell from a good one is not a
  deployment that needed intervention).
"""

from __future__ import annotations

from simdeploy.delivery.runbook.incident import calm_after

_DETECTIONS = {"AlertFiring", "ProgressDeadlineExceeded"}


def outcome(result: dict, release: float, availability: float, p99: float, hold: float, bad: bool) -> dict:
    """The figures of one rehearsal, every time counted from the release (None: not within the rehearsal)."""
    end = result["duration_s"]
    detected = _detected(result, release)
    intervals = _intervals(result.get("traffic") or [], release)
    ceiling = 1 - availability
    impact = [t for t, requests, errors, slowest, _ in intervals if _bad(requests, errors, slowest, ceiling, p99)]
    failed = bad and (detected is not None or bool(impact))
    settled = _settled(result, release)
    recovered = None
    if failed:
        calm = _calm_after(intervals, ceiling, p99, hold) if impact else release
        if calm is not None and settled is not None:
            recovered = max(calm, settled)
    live = _live(result, release)
    horizon = recovered if recovered is not None else end
    errors = sum(errors for t, _, errors, _, _ in intervals if t <= horizon)
    last = intervals[-1] if intervals else None
    return {
        "detected_s": _since(detected, release),
        "live_s": _since(live, release),
        "failed": failed,
        "recovered_s": _since(recovered, release),
        "errors": round(errors, 3) if bad else 0.0,
        "errors_per_s_at_end": round(last[2] / last[4], 6) if last and last[4] > 0 and bad else 0.0,
        "paged": bool((result.get("drill") or {}).get("trigger_s") is not None),
        "window_s": round(end - release, 3),
    }


def _since(moment: float | None, release: float) -> float | None:
    return None if moment is None else round(max(0.0, moment - release), 3)


def _detected(result: dict, release: float) -> float | None:
    moments = [e["t"] for e in result["events"] if e["reason"] in _DETECTIONS and e["t"] >= release]
    for rollout in (result["summary"].get("argo_rollouts") or {}).values():
        if rollout.get("aborted_s") is not None and rollout["aborted_s"] >= release:
            moments.append(rollout["aborted_s"])
    trigger = (result.get("drill") or {}).get("trigger_s")
    if trigger is not None:
        moments.append(trigger)
    return min(moments) if moments else None


def _intervals(rows: list[dict], release: float) -> list[tuple[float, float, float, float, float]]:
    """(end, requests, errors, slowest p99, length) per scrape interval after the release, over services and
    versions."""
    totals: dict[float, list[float]] = {}
    for row in rows:
        entry = totals.setdefault(row["t"], [0.0, 0.0, 0.0])
        entry[0] += row["requests"]
        entry[1] += row["errors"]
        if row["requests"] > 0 and row.get("p99_s") is not None:
            entry[2] = max(entry[2], row["p99_s"])
    ends = sorted(totals)
    starts = [0.0, *ends][: len(ends)]
    return [(t, *totals[t], t - start) for start, t in zip(starts, ends, strict=True) if t > release]


def _bad(requests: float, errors: float, slowest: float, ceiling: float, p99: float) -> bool:
    return requests > 0 and (errors / requests > ceiling or slowest > p99)


def _calm_after(intervals: list, ceiling: float, p99: float, hold: float) -> float | None:
    """The end of the last interval with impact, once good intervals follow it for `hold` (a drill's rule for
    mitigation, with latency as well as errors)."""
    steps = (
        (t, _bad(requests, errors, slowest, ceiling, p99), length) for t, requests, errors, slowest, length in intervals
    )
    return calm_after(steps, hold)


def _settled(result: dict, release: float) -> float | None:
    """When every rollout started since the release had settled (None: one was still going at the end)."""
    moment = release
    for deployment in result["summary"].get("deployments", {}).values():
        since = [rollout for rollout in deployment["rollouts"] if rollout["started_s"] >= release]
        if since:  # the last one is where the Deployment is now; those it superseded never complete
            if since[-1]["completed_s"] is None:
                return None
            moment = max(moment, since[-1]["completed_s"])
    for rollout in (result["summary"].get("argo_rollouts") or {}).values():
        phases = rollout.get("phases") or []
        if phases and phases[-1]["phase"] in ("Progressing", "Paused"):
            return None
        if phases and phases[-1]["t"] >= release:
            moment = max(moment, phases[-1]["t"])
    return moment


def _live(result: dict, release: float) -> float | None:
    """When the release's own rollout completed: the first rollout started at or after it."""
    for deployment in result["summary"].get("deployments", {}).values():
        for rollout in deployment["rollouts"]:
            if rollout["started_s"] >= release:
                return rollout["completed_s"]
    for rollout in (result["summary"].get("argo_rollouts") or {}).values():
        if rollout.get("updated_s") is not None and rollout["updated_s"] >= release:
            return rollout.get("completed_s")
    return None
