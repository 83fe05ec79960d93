"""Argo Rollouts blue-green: preview stack, pre-promotion analysis, (auto-)promotion, post-promotion analysis.

Follows argo-rollouts rollout/bluegreen.go and docs/features/bluegreen.md: the new ReplicaSet comes up
behind the preview Service; once it is fully available the pre-promotion analysis runs; the Rollout
pauses unless auto-promotion is on; promotion switches the active Service's selector; the
post-promotion analysis can still abort (the active Service then goes back); the old ReplicaSet is
scaled down scaleDownDelaySeconds (30 s) later. `ctl` is the RolloutController.
"""

from __future__ import annotations

from simdeploy.delivery.argo import canary

HASH = canary.ROLLOUT_UNIQUE_LABEL_KEY
PAUSE = "BlueGreenPause"
DEFAULT_SCALE_DOWN_DELAY = 30.0


def rollout_blue_green(ctl, rollout: dict, status: dict, new_rs: dict, stable_rs: dict | None, others: list) -> None:
    strategy = rollout["spec"]["strategy"]["blueGreen"]
    replicas = rollout["spec"].get("replicas", 1)
    new_hash = status["currentPodHash"]
    if stable_rs is None or stable_rs is new_rs:
        ctl._scale(rollout, new_rs, replicas)
        _select(ctl, rollout, strategy.get("activeService"), new_hash)
        _select(ctl, rollout, strategy.get("previewService"), new_hash)
        _scale_down_old(ctl, rollout, strategy, others)
        return
    _select(ctl, rollout, strategy.get("previewService"), new_hash)
    ctl._scale(rollout, stable_rs, replicas)
    if status.get("abort"):
        _select(ctl, rollout, strategy.get("activeService"), status["stableRS"])
        ctl._scale(rollout, new_rs, ctl._after_abort_delay(rollout, new_rs, 0))
        return
    switched = status.get("blueGreen", {}).get("activeSelector") == new_hash
    preview = strategy.get("previewReplicaCount", replicas) if not switched else replicas
    ctl._scale(rollout, new_rs, preview)
    if not canary.all_desired_are_available(new_rs, preview):
        return
    if not switched:
        if not _analysis_passed(ctl, rollout, status, "prePromotionAnalysis", strategy):
            return
        if not _promotion_allowed(ctl, rollout, status, strategy):
            return
        if preview != replicas:
            ctl._scale(rollout, new_rs, replicas)
            return
        if not canary.all_desired_are_available(new_rs, replicas):
            return
        _select(ctl, rollout, strategy.get("activeService"), new_hash)
        status.setdefault("blueGreen", {})["activeSelector"] = new_hash
        ctl.event(
            rollout, "SwitchService", f"Switched selector for service '{strategy.get('activeService')}' to '{new_hash}'"
        )
    if not _analysis_passed(ctl, rollout, status, "postPromotionAnalysis", strategy):
        return
    status["stableRS"] = new_hash
    status["promotedAt"] = ctl.sim.now
    revision = ctl._revision_of(rollout, new_hash)
    ctl.event(rollout, "RolloutCompleted", f"Rollout completed update to revision {revision}")
    ctl.enqueue(rollout, 0.0)


def _analysis_passed(ctl, rollout: dict, status: dict, field: str, strategy: dict) -> bool:
    """Run the pre- or post-promotion analysis once; True once it succeeded (or when there is none)."""
    spec = strategy.get(field)
    if not spec:
        return True
    name = f"{rollout['metadata']['name']}-{status['currentPodHash']}-{'pre' if field.startswith('pre') else 'post'}"
    run = ctl.runs.get(name)
    if run is None:
        run = ctl.runs[name] = ctl.analysis(name, rollout, spec, lambda _run: ctl.enqueue(rollout, 0.0))
        ctl.event(rollout, "AnalysisRunRunning", f"{field} Analysis Run '{name}' Status New: 'Running'")
        run.start()
        return run.phase == "Successful"
    if run.phase in ("Failed", "Error"):
        revision = ctl._revision_of(rollout, status["currentPodHash"])
        ctl.abort(rollout, f"Rollout aborted update to revision {revision}: {run.message}")
        return False
    return run.phase == "Successful"


def _promotion_allowed(ctl, rollout: dict, status: dict, strategy: dict) -> bool:
    """autoPromotionEnabled false pauses until `promote`; autoPromotionSeconds promotes on its own after N s."""
    auto = strategy.get("autoPromotionEnabled", True)
    seconds = strategy.get("autoPromotionSeconds")
    if auto and not seconds:
        return True
    if status.get("promoteFull") or status.get("blueGreen", {}).get("promoted") == status["currentPodHash"]:
        return True
    conditions = status.setdefault("pauseConditions", [])
    if not conditions:
        conditions.append({"reason": PAUSE, "startTime": ctl.sim.store.timestamp(), "startedAt": ctl.sim.now})
        ctl.event(rollout, "RolloutPaused", "Rollout is paused (BlueGreenPause)")
    if auto and seconds:
        ends = conditions[0].get("startedAt", ctl.sim.now) + float(seconds)
        if ctl.sim.now + 1e-9 >= ends:
            status.pop("pauseConditions", None)
            status.setdefault("blueGreen", {})["promoted"] = status["currentPodHash"]
            return True
        ctl.enqueue(rollout, ends - ctl.sim.now)
    return False


def _select(ctl, rollout: dict, service: str | None, pod_hash: str) -> None:
    if not service:
        return
    obj = ctl.store.find("Service", rollout["metadata"]["namespace"], service)
    if obj is not None and (obj["spec"].get("selector") or {}).get(HASH) != pod_hash:
        obj["spec"].setdefault("selector", {})[HASH] = pod_hash
        ctl.store.update(obj)


def _scale_down_old(ctl, rollout: dict, strategy: dict, others: list) -> None:
    delay = float(strategy.get("scaleDownDelaySeconds", DEFAULT_SCALE_DOWN_DELAY))
    promoted_at = rollout["status"].get("promotedAt", ctl.sim.now)
    for rs in others:
        if rs["spec"].get("replicas", 0) == 0:
            continue
        if ctl.sim.now + 1e-9 >= promoted_at + delay:
            ctl._scale(rollout, rs, 0)
        else:
            ctl.enqueue(rollout, promoted_at + delay - ctl.sim.now)
