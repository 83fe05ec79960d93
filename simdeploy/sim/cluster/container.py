"""One container as the kubelet sees it: its state, when it next changes by itself, and its reported status."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from simdeploy.sim.behaviour import ContainerRun, VersionBehaviour
from simdeploy.sim.cluster import probes
from simdeploy.sim.cluster.probes import INF, Probe

_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")


@dataclass
class Container:
    """What the kubelet knows of one container of one pod."""

    name: str
    image: str
    behaviour: VersionBehaviour
    startup_probe: Probe | None
    readiness_probe: Probe | None
    liveness_probe: Probe | None
    pre_stop: float
    restart_count: int = 0
    state: str = "waiting"  # waiting | running | stopping (killed, still running) | terminated
    waiting_reason: str = "ContainerCreating"
    run: ContainerRun | None = None
    started: bool = False  # the startup probe has succeeded (or there is none)
    started_at: float = 0.0  # when the startup probe passed
    ready: bool = False
    serving: bool = False  # the app really answers requests (whatever /readyz says)
    next_backoff: float = 0.0
    last_exit: dict | None = None
    stops_at: float = 0.0  # when a container being killed has stopped
    reported_unready: bool = False  # this run's failing readiness is already on the timeline
    init: bool = False  # an init container: runs to completion before the next one, and before the app's
    prior_exit: dict | None = None  # the exit before last_exit, once a container has stopped for good


def next_change(c: Container, now: float) -> tuple[float, str] | None:
    """The next moment this container's state changes on its own, and what happens then (None: never)."""
    run = c.run
    start = run.started
    candidates: list[tuple[float, str]] = []
    if run.exits < INF:
        candidates.append((run.exits, "exit"))
    if not c.serving and run.serves < run.hangs and now < run.hangs:
        candidates.append((max(now, run.serves), "serves"))
    elif c.serving and run.hangs < INF:
        candidates.append((max(now, run.hangs), "hangs"))
    if not c.started:
        probe = c.startup_probe
        passes = probes.success_time(start, probe, max(now, run.live), run.hangs)
        fail_from, fail_until = (now, run.live) if now < run.live else (max(now, run.hangs), INF)
        killed = probes.failure_time(start, probe, fail_from, fail_until)
        if killed is None and passes is None and fail_until < INF:
            killed = probes.failure_time(start, probe, max(now, run.hangs))
        if killed is not None:
            candidates.append((killed + timeout_after(run, probe, killed), "startup-failed"))
        if passes is not None:
            candidates.append((passes, "started"))
        return min(candidates, default=None)
    gate = max(now, c.started_at)
    if c.readiness_probe is None:
        if not c.ready:
            candidates.append((max(gate, now), "ready"))
    elif not c.ready:
        ready = probes.success_time(start, c.readiness_probe, max(gate, run.ready), run.hangs)
        if ready is not None:
            candidates.append((ready, "ready"))
        if not c.reported_unready:
            # Worth a line once failureThreshold probes in a row have failed before readiness.
            failing = probes.failure_time(start, c.readiness_probe, gate, ready if ready is not None else INF)
            if failing is not None:
                candidates.append((failing, "readiness-failing"))
    else:
        unready = probes.failure_time(start, c.readiness_probe, max(gate, run.hangs))
        if unready is not None:
            timeout = timeout_after(run, c.readiness_probe, unready)
            candidates.append((unready + timeout, "unready"))
    if c.liveness_probe is not None:
        killed = None
        if gate < run.live:
            killed = probes.failure_time(start, c.liveness_probe, gate, run.live)
        if killed is None:
            killed = probes.failure_time(start, c.liveness_probe, max(gate, run.hangs))
        if killed is not None:
            timeout = timeout_after(run, c.liveness_probe, killed)
            candidates.append((killed + timeout, "liveness-failed"))
    return min(candidates, default=None)


def timeout_after(run: ContainerRun, probe: Probe, moment: float) -> float:
    """A hung endpoint fails only when the probe times out; a closed port fails at once."""
    return probe.timeout if moment >= run.hangs else 0.0


def container_status(c: Container, stamp: Callable[[float], str]) -> dict:
    """The containerStatuses entry the kubelet reports for this container."""
    last = c.last_exit
    if c.state in ("running", "stopping"):
        state = {"running": {"startedAt": stamp(c.run.started)}}
    elif c.state == "terminated" and c.last_exit:
        state, last = {"terminated": c.last_exit}, c.prior_exit
    else:
        state = {"waiting": {"reason": c.waiting_reason}}
    status = {
        "name": c.name,
        "image": c.image,
        "imageID": "",
        "ready": c.ready,
        "started": c.state in ("running", "stopping") and c.started,
        "restartCount": c.restart_count,
        "state": state,
    }
    if last:
        status["lastState"] = {"terminated": last}
    return status


def pre_stop_seconds(container: dict) -> float:
    """How long a container's preStop hook takes: `sleep N` in an exec hook, or the sleep action."""
    hook = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in hook:
        return float(hook["sleep"].get("seconds", 0))
    command = " ".join(str(part) for part in (hook.get("exec") or {}).get("command", []))
    match = _SLEEP.search(command)
    return float(match.group(1)) if match else 0.0
