"""The Argo Rollouts controller: ReplicaSets, canary steps, pauses, analysis, traffic, promotion and abort.

Follows argo-rollouts rollout/canary.go (rolloutCanary, completedCurrentCanaryStep, syncRolloutStatusCanary)
with the replica arithmetic of utils/replicaset/canary.go (delivery/canary.py); blue-green is in bluegreen.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from simdeploy.delivery.argo import canary
from simdeploy.delivery.argo.analysis import AnalysisError, AnalysisRun, prometheus
from simdeploy.delivery.argo.bluegreen import rollout_blue_green
from simdeploy.delivery.argo.commands import RolloutCommands
from simdeploy.delivery.argo.summary import describe_step, summarize
from simdeploy.k8s import deployment_util as du
from simdeploy.k8s.duration import parse_duration
from simdeploy.k8s.hashing import compute_hash
from simdeploy.sim.cluster.store import DELETED
from simdeploy.sim.result import seconds
from simdeploy.sim.simulation import Simulation
from simdeploy.sim.traffic.model import Route
from simdeploy.sim.workqueue import WorkQueue

HASH = canary.ROLLOUT_UNIQUE_LABEL_KEY
REVISION = canary.REVISION_ANNOTATION
PAUSE_STEP = "CanaryPauseStep"
PAUSE_INCONCLUSIVE = "InconclusiveAnalysisRun"

# An AnalysisRun factory: (name, rollout, analysis step spec, on_done) -> an object with start(), terminate(),
# phase and message.
AnalysisFactory = Callable[[str, dict, dict, Callable], object]


class RolloutController(RolloutCommands):
    """Reconciles every argoproj.io Rollout with a canary strategy."""

    def __init__(self, sim: Simulation, analysis: AnalysisFactory | None = None):
        self.sim = sim
        self.store = sim.store
        self.analysis = analysis or self._analysis_run
        self.queue = WorkQueue(sim.clock, sim.cluster.controller_latency, self.sync)
        self.runs: dict[str, object] = {}  # AnalysisRun name -> run
        self.step_history: list[dict] = []  # {t, rollout, step (0-based), of, description}
        self._last_hash: dict[str, str] = {}
        self.store.watch("Rollout", self._on_rollout)
        self.store.watch("ReplicaSet", self._on_replica_set)
        for rollout in self.store.list("Rollout"):  # applied before this controller started
            self.enqueue(rollout)
        sim.result_hooks.append(lambda result: summarize(self, result))

    # -- watches -------------------------------------------------------------------------------

    def _on_rollout(self, event_type: str, rollout: dict) -> None:
        if event_type != DELETED:
            self.enqueue(rollout)

    def _on_replica_set(self, event_type: str, rs: dict) -> None:
        owner = self.store.controller_of(rs, "Rollout")
        if owner is not None:
            self.enqueue(owner)

    def enqueue(self, rollout: dict, delay: float | None = None) -> None:
        key = f"{rollout['metadata']['namespace']}/{rollout['metadata']['name']}"
        if delay is None:
            self.queue.add(key)
        else:
            self.queue.add_after(key, delay)

    def event(self, rollout: dict, reason: str, message: str, warning: bool = False) -> None:
        self.sim.recorder.object_event(rollout, reason, message, warning)

    # -- reconcile -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        rollout = self.store.find("Rollout", namespace, name)
        if rollout is None:
            return
        status = rollout.setdefault("status", {})
        before = copy.deepcopy(status)
        rs_list = self.store.owned_by("ReplicaSet", rollout["metadata"]["uid"])
        new_rs = self._new_replica_set(rollout, rs_list)
        rs_list = self.store.owned_by("ReplicaSet", rollout["metadata"]["uid"])
        pod_hash = new_rs["metadata"]["labels"][HASH]
        if self._last_hash.get(key) != pod_hash:
            self._start_update(rollout, status, pod_hash)
            self._last_hash[key] = pod_hash
        if not status.get("stableRS"):
            status["stableRS"] = pod_hash  # first deploy: nothing to compare with, go straight to 100%
        stable_rs = canary.get_stable_rs(rollout, new_rs, rs_list)
        others = canary.get_other_rss(rollout, new_rs, stable_rs, rs_list)
        if "blueGreen" in rollout["spec"]["strategy"]:
            rollout_blue_green(self, rollout, status, new_rs, stable_rs, others)
            self._update_status(rollout, status, new_rs, stable_rs, rs_list)
            if status != before:
                self.store.update(rollout)
            return
        self._reconcile_replicas(rollout, new_rs, stable_rs, others)
        self._reconcile_traffic(rollout, status, pod_hash, (new_rs, stable_rs, others))
        if not status.get("abort") and status.get("currentPodHash") != status.get("stableRS"):
            self._background_analysis(rollout, status)
        if not status.get("abort") and not rollout["spec"].get("paused"):
            self._reconcile_steps(rollout, status, new_rs, stable_rs, others)
        self._promote_when_done(rollout, status, new_rs, stable_rs, others)
        self._update_status(rollout, status, new_rs, stable_rs, rs_list)
        if status != before:
            self.store.update(rollout)

    def _start_update(self, rollout: dict, status: dict, pod_hash: str) -> None:
        """A new template: start from the first step, as when the controller sees a new pod hash."""
        previous = status.get("currentPodHash")
        status.update(currentPodHash=pod_hash, currentStepIndex=0, abort=False, promoteFull=False)
        status.pop("pauseConditions", None)
        status.pop("abortedAt", None)
        self._terminate_runs(rollout)
        if previous is not None and pod_hash != status.get("stableRS"):
            self.event(rollout, "RolloutUpdated", f"Rollout updated to revision {self._revision_of(rollout, pod_hash)}")

    def _revision_of(self, rollout: dict, pod_hash: str) -> str:
        for rs in self.store.owned_by("ReplicaSet", rollout["metadata"]["uid"]):
            if rs["metadata"]["labels"].get(HASH) == pod_hash:
                return rs["metadata"].get("annotations", {}).get(REVISION, "?")
        return "?"

    def _new_replica_set(self, rollout: dict, rs_list: list[dict]) -> dict:
        for rs in rs_list:
            if _same_template(rs["spec"]["template"], rollout["spec"]["template"]):
                return rs
        template = copy.deepcopy(rollout["spec"]["template"])
        pod_hash = compute_hash(template, rollout.get("status", {}).get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = pod_hash
        selector = copy.deepcopy(rollout["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH] = pod_hash
        revision = 1 + max((int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in rs_list), default=0)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{rollout['metadata']['name']}-{pod_hash}",
                "namespace": rollout["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Rollout",
                        "name": rollout["metadata"]["name"],
                        "uid": rollout["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        return self.sim.api.create(rs)

    # -- traffic -------------------------------------------------------------------------------

    def _reconcile_traffic(self, rollout: dict, status: dict, pod_hash: str, replica_sets: tuple) -> None:
        strategy = rollout["spec"]["strategy"]["canary"]
        routing = strategy.get("trafficRouting")
        if routing is None:
            return
        namespace = rollout["metadata"]["namespace"]
        weight = self._desired_weight(rollout, status, replica_sets)
        stable_hash = status.get("stableRS", pod_hash)
        for service, wanted in (
            (strategy.get("stableService"), stable_hash),
            (strategy.get("canaryService"), pod_hash),
        ):
            obj = self.store.find("Service", namespace, service or "")
            if obj is not None and (obj["spec"].get("selector") or {}).get(HASH) != wanted:
                obj["spec"].setdefault("selector", {})[HASH] = wanted
                self.store.update(obj)
        for route in _route_names(routing):
            weights = {strategy.get("stableService"): 100 - weight, strategy.get("canaryService"): weight}
            self.sim.traffic.set_route(Route(namespace, route, {k: v for k, v in weights.items() if k}))
        status["canary"] = {
            "weights": {
                "canary": {"weight": weight, "podTemplateHash": pod_hash},
                "stable": {"weight": 100 - weight, "podTemplateHash": stable_hash},
            }
        }

    def _desired_weight(self, rollout: dict, status: dict, replica_sets: tuple) -> int:
        """The canary's share of traffic; once promoted the stable Service selects the new pods and takes it all.

        While the canary is still scaling for a step, the router keeps the previous step's weight
        (rollout/trafficrouting.go): traffic moves only once the pods to take it are available.
        """
        if status.get("abort") or status.get("currentPodHash") == status.get("stableRS"):
            return 0
        if status.get("promoteFull"):
            return 100
        _, index = canary.get_current_canary_step(rollout)
        new_rs, stable_rs, others = replica_sets
        weights = (status.get("canary") or {}).get("weights")
        if index is not None and not canary.at_desired_replica_counts_for_canary(
            rollout, new_rs, stable_rs, others, weights
        ):
            steps = rollout["spec"]["strategy"]["canary"].get("steps") or []
            return next((steps[i]["setWeight"] for i in range(index - 1, -1, -1) if "setWeight" in steps[i]), 0)
        return canary.get_current_set_weight(rollout)

    # -- replicas ------------------------------------------------------------------------------

    def _reconcile_replicas(self, rollout: dict, new_rs: dict, stable_rs: dict | None, others: list[dict]) -> None:
        replicas = rollout["spec"].get("replicas", 1)
        status = rollout["status"]
        if stable_rs is None or stable_rs is new_rs:
            self._scale(rollout, new_rs, replicas)
            for rs in others:
                self._scale(rollout, rs, self._after_scale_down_delay(rollout, rs))
            return
        if rollout["spec"]["strategy"]["canary"].get("trafficRouting") is not None:
            new_count, stable_count = canary.calculate_replica_counts_for_traffic_routed_canary(
                rollout, new_rs, stable_rs
            )
            if status.get("abort"):
                new_count = self._after_abort_delay(rollout, new_rs, 0)
            for rs in others:
                self._scale(rollout, rs, 0)
        else:
            new_count, stable_count = canary.calculate_replica_counts_for_basic_canary(
                rollout, new_rs, stable_rs, others
            )
            self._scale_down_others(rollout, new_rs, stable_rs, others)
        self._scale(rollout, stable_rs, stable_count)
        self._scale(rollout, new_rs, new_count)

    def _after_scale_down_delay(self, rollout: dict, rs: dict) -> int:
        """With a traffic router the old stable keeps its pods scaleDownDelaySeconds (30 s) after the switch."""
        strategy = rollout["spec"]["strategy"]["canary"]
        if strategy.get("trafficRouting") is None or rs["spec"].get("replicas", 0) == 0:
            return 0
        delay = float(strategy.get("scaleDownDelaySeconds", 30))
        promoted_at = rollout["status"].get("promotedAt", self.sim.now)
        if self.sim.now + 1e-9 < promoted_at + delay:
            self.enqueue(rollout, promoted_at + delay - self.sim.now)
            return rs["spec"]["replicas"]
        return 0

    def _after_abort_delay(self, rollout: dict, canary_rs: dict, target: int) -> int:
        """An aborted canary keeps its pods for abortScaleDownDelaySeconds (default 30 s) after traffic left."""
        delay, _ = canary.get_abort_scale_down_delay_seconds_or_default(rollout)
        if delay is None or delay == 0:
            return canary_rs["spec"]["replicas"]
        aborted_at = rollout["status"].get("abortedAt", self.sim.now)
        if self.sim.now < aborted_at + delay:
            self.enqueue(rollout, aborted_at + delay - self.sim.now)
            return canary_rs["spec"]["replicas"]
        return target

    def _scale_down_others(self, rollout: dict, new_rs: dict, stable_rs: dict, others: list[dict]) -> None:
        """Older ReplicaSets drain while availability stays above minAvailable (scaleDownOldReplicaSetsForCanary)."""
        replicas = rollout["spec"].get("replicas", 1)
        available = canary.get_available_replica_count_for_replica_sets([new_rs, stable_rs, *others])
        room = available - (replicas - canary.max_unavailable(rollout))
        for rs in du.replica_sets_by_creation_timestamp(others):
            current = rs["spec"].get("replicas", 0)
            if current == 0:
                continue
            unavailable = current - rs.get("status", {}).get("availableReplicas", 0)
            cut = min(current, unavailable + max(room, 0))
            room -= max(cut - unavailable, 0)
            self._scale(rollout, rs, current - cut)

    def _scale(self, rollout: dict, rs: dict, count: int) -> None:
        old = rs["spec"].get("replicas", 0)
        if old == count:
            return
        rs["spec"]["replicas"] = count
        self.store.update(rs, spec_changed=True)
        direction = "up" if count > old else "down"
        self.event(
            rollout,
            "ScalingReplicaSet",
            f"Scaled {direction} ReplicaSet {rs['metadata']['name']} from {old} to {count}",
        )

    # -- steps ---------------------------------------------------------------------------------

    def _reconcile_steps(self, rollout: dict, status: dict, new_rs: dict, stable_rs, others: list[dict]) -> None:
        if status.get("currentPodHash") == status.get("stableRS") or status.get("promoteFull"):
            return
        step, index = canary.get_current_canary_step(rollout)
        if step is None:
            return
        if "setWeight" in step or "setCanaryScale" in step:
            weights = (status.get("canary") or {}).get("weights")
            if canary.at_desired_replica_counts_for_canary(rollout, new_rs, stable_rs, others, weights):
                self._advance(rollout, status, index, step)
        elif "pause" in step:
            self._pause_step(rollout, status, index, step["pause"] or {})
        elif "analysis" in step:
            self._analysis_step(rollout, status, index, step["analysis"])
        else:
            self._advance(rollout, status, index, step)  # steps we do not model complete at once

    def _advance(self, rollout: dict, status: dict, index: int, step: dict) -> None:
        status["currentStepIndex"] = index + 1
        status.pop("pauseConditions", None)
        described, of = describe_step(step), len(canary._steps(rollout))
        name = rollout["metadata"]["name"]
        self.step_history.append(
            {"t": seconds(self.sim.now), "rollout": name, "step": index, "of": of, "description": described}
        )
        self.event(rollout, "RolloutStepCompleted", f"Rollout step {index + 1}/{of} completed ({described})")
        self.enqueue(rollout, 0.0)

    def _pause_step(self, rollout: dict, status: dict, index: int, pause: dict) -> None:
        conditions = status.setdefault("pauseConditions", [])
        if not conditions:
            conditions.append(
                {"reason": PAUSE_STEP, "startTime": self.sim.store.timestamp(), "startedAt": self.sim.now}
            )
            self.event(rollout, "RolloutPaused", "Rollout is paused (CanaryPauseStep)")
        if "duration" not in pause:
            return  # until `kubectl argo rollouts promote`
        duration = parse_duration(pause["duration"])
        ends = conditions[0]["startedAt"] + duration
        if self.sim.now + 1e-9 >= ends:
            self._advance(rollout, status, index, {"pause": pause})
        else:
            self.enqueue(rollout, ends - self.sim.now)

    def _analysis_step(self, rollout: dict, status: dict, index: int, spec: dict) -> None:
        name = f"{rollout['metadata']['name']}-{status['currentPodHash']}-{index + 1}"
        run = self.runs.get(name)
        if run is None:
            if self.analysis is None:
                self._advance(rollout, status, index, {"analysis": spec})
                return
            run = self.runs[name] = self.analysis(name, rollout, spec, lambda _run: self.enqueue(rollout, 0.0))
            self.event(rollout, "AnalysisRunRunning", f"Step Analysis Run '{name}' Status New: 'Running'")
            run.start()
            return
        phase = run.phase
        if phase == "Successful":
            self._advance(rollout, status, index, {"analysis": spec})
        elif phase in ("Failed", "Error"):
            revision = self._revision_of(rollout, status["currentPodHash"])
            self.abort(rollout, f"Rollout aborted update to revision {revision}: {run.message}")
        elif phase == "Inconclusive" and not status.get("pauseConditions"):
            status["pauseConditions"] = [{"reason": PAUSE_INCONCLUSIVE, "startTime": self.sim.store.timestamp()}]
            self.event(rollout, "RolloutPaused", "Rollout is paused (InconclusiveAnalysisRun)", warning=True)

    def _analysis_run(self, name: str, rollout: dict, spec: dict, on_done: Callable) -> AnalysisRun:
        """An AnalysisRun from the step's (or background) templates, queried against the simulated Prometheus."""
        namespace = rollout["metadata"]["namespace"]
        templates = []
        for ref in spec.get("templates") or []:
            template = self.store.find("AnalysisTemplate", namespace, ref.get("templateName", ""))
            if template is None:
                raise AnalysisError(
                    f'AnalysisTemplate "{ref.get("templateName")}" not found in namespace "{namespace}"'
                )
            templates.append(template)
        status = rollout["status"]
        hashes = {"Stable": status.get("stableRS", ""), "Latest": status.get("currentPodHash", "")}

        def value_from(source: dict) -> str:
            return hashes.get((source or {}).get("podTemplateHashValue", ""), "")

        return AnalysisRun.from_template(
            name, templates, spec.get("args") or [], self.sim.clock, self._query, on_done, value_from=value_from
        )

    def _query(self, expression: str, t: float):
        if self.sim.metrics is None:
            raise AnalysisError("metrics are not recorded in this simulation")
        return prometheus(self.sim.metrics)(expression, t)

    def _background_analysis(self, rollout: dict, status: dict) -> None:
        """strategy.canary.analysis: one run from startingStep until promotion; its failure aborts."""
        spec = rollout["spec"]["strategy"]["canary"].get("analysis")
        if not spec or status.get("currentStepIndex", 0) < spec.get("startingStep", 0):
            return
        name = f"{rollout['metadata']['name']}-{status['currentPodHash']}-background"
        run = self.runs.get(name)
        if run is None:
            run = self.runs[name] = self.analysis(name, rollout, spec, lambda _run: self.enqueue(rollout, 0.0))
            self.event(rollout, "AnalysisRunRunning", f"Background Analysis Run '{name}' Status New: 'Running'")
            run.start()
        elif run.phase in ("Failed", "Error"):
            revision = self._revision_of(rollout, status["currentPodHash"])
            self.abort(rollout, f"Rollout aborted update to revision {revision}: {run.message}")

    def _terminate_runs(self, rollout: dict) -> None:
        prefix = f"{rollout['metadata']['name']}-"
        for name, run in self.runs.items():
            if name.startswith(prefix) and getattr(run, "phase", "") in ("Pending", "Running"):
                run.terminate()

    # -- promotion, abort, status --------------------------------------------------------------

    def _promote_when_done(self, rollout: dict, status: dict, new_rs: dict, stable_rs, others: list[dict]) -> None:
        if status.get("abort") or status.get("currentPodHash") == status.get("stableRS"):
            return
        step, _ = canary.get_current_canary_step(rollout)
        if step is not None and not status.get("promoteFull"):
            return
        replicas = rollout["spec"].get("replicas", 1)
        if canary.all_desired_are_available(new_rs, replicas):
            status["stableRS"] = status["currentPodHash"]
            status["promotedAt"] = self.sim.now
            self._terminate_runs(rollout)
            self.event(
                rollout,
                "RolloutCompleted",
                f"Rollout completed update to revision {self._revision_of(rollout, status['stableRS'])}",
            )
            self.enqueue(rollout, 0.0)

    def abort(self, rollout: dict, message: str) -> None:
        status = rollout.setdefault("status", {})
        if status.get("abort"):
            return
        status.update(abort=True, abortedAt=self.sim.now, message=message)
        status.pop("pauseConditions", None)
        self._terminate_runs(rollout)
        self.event(rollout, "RolloutAborted", message, warning=True)
        self.store.update(rollout)

    def _update_status(self, rollout: dict, status: dict, new_rs: dict, stable_rs, rs_list: list[dict]) -> None:
        replicas = rollout["spec"].get("replicas", 1)
        status["replicas"] = sum(rs.get("status", {}).get("replicas", 0) for rs in rs_list)
        status["availableReplicas"] = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in rs_list)
        status["readyReplicas"] = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in rs_list)
        status["updatedReplicas"] = new_rs.get("status", {}).get("replicas", 0)
        status["observedGeneration"] = str(rollout["metadata"].get("generation", 1))
        if status.get("abort"):
            phase = "Degraded"
        elif rollout["spec"].get("paused"):
            phase, status["message"] = "Paused", "PausedByUser"
        elif status.get("pauseConditions"):
            phase, status["message"] = "Paused", status["pauseConditions"][0]["reason"]
        elif status.get("currentPodHash") == status.get("stableRS") and canary.all_desired_are_available(
            new_rs, replicas
        ):
            phase = "Healthy"
            status.pop("message", None)
        else:
            phase = "Progressing"
        if phase != status.get("phase"):
            self.event(rollout, f"Phase{phase}", f"Rollout phase is now {phase}")
        status["phase"] = phase


def _same_template(rs_template: dict, template: dict) -> bool:
    """The Rollout's template, ignoring the rollouts-pod-template-hash label the ReplicaSet's carries."""
    labels = (rs_template.get("metadata") or {}).get("labels") or {}
    if HASH in labels:
        rs_template = {
            **rs_template,
            "metadata": {**rs_template["metadata"], "labels": {k: v for k, v in labels.items() if k != HASH}},
        }
    return du.equal_ignore_hash(rs_template, template)


def _route_names(routing: dict) -> list[str]:
    """The routers' names whose weights the canary sets (Istio VirtualServices, or a plain `route`)."""
    names = []
    istio = routing.get("istio") or {}
    services = istio.get("virtualServices") or ([istio["virtualService"]] if "virtualService" in istio else [])
    names += [vs["name"] for vs in services if "name" in vs]
    for router in ("nginx", "smi", "traefik", "alb"):
        spec = routing.get(router) or {}
        name = spec.get("stableIngress") or spec.get("trafficSplitName") or spec.get("weightedTraefikServiceName")
        if name:
            names.append(name)
    return names
