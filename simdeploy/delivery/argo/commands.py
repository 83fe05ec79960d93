"""Operator commands on Rollouts, as `kubectl argo rollouts promote / abort / retry / pause / undo` do them."""

from __future__ import annotations

import copy

from simdeploy.delivery.argo import canary
from simdeploy.sim.cluster.kubectl import KubectlError

HASH = canary.ROLLOUT_UNIQUE_LABEL_KEY
REVISION = canary.REVISION_ANNOTATION


class RolloutCommands:
    """Mixed into the RolloutController: the commands change status or spec, the controller reconciles."""

    def _get(self, namespace: str, name: str) -> dict:
        rollout = self.store.find("Rollout", namespace, name)
        if rollout is None:
            raise KubectlError(f'rollouts.argoproj.io "{name}" not found')
        return rollout

    def promote(self, namespace: str, name: str, full: bool = False) -> str:
        """Resume a paused step (or, with full, skip every remaining step, pause and analysis)."""
        rollout = self._get(namespace, name)
        status = rollout.setdefault("status", {})
        if full:
            status["promoteFull"] = True
        elif "blueGreen" in rollout["spec"]["strategy"]:
            status.setdefault("blueGreen", {})["promoted"] = status.get("currentPodHash")
        elif status.get("pauseConditions"):
            _, index = canary.get_current_canary_step(rollout)
            if index is not None:
                status["currentStepIndex"] = index + 1
        status.pop("pauseConditions", None)
        self.store.update(rollout)
        self.event(rollout, "RolloutResumed", f"rollout '{name}' promoted" + (" (full)" if full else ""))
        return f"rollout '{name}' promoted"

    def abort_action(self, namespace: str, name: str, _full: bool = False) -> str:
        self.abort(self._get(namespace, name), "Rollout aborted by the operator")
        return f"rollout '{name}' aborted"

    def retry(self, namespace: str, name: str, _full: bool = False) -> str:
        rollout = self._get(namespace, name)
        status = rollout.setdefault("status", {})
        status.update(abort=False, currentStepIndex=0)
        for key in ("abortedAt", "message", "pauseConditions"):
            status.pop(key, None)
        self.store.update(rollout)
        self.event(rollout, "RolloutRetried", f"rollout '{name}' retried")
        return f"rollout '{name}' retried"

    def pause(self, namespace: str, name: str, paused: bool) -> str:
        """kubectl argo rollouts pause / resume: spec.paused holds the steps where they are."""
        rollout = self._get(namespace, name)
        if bool(rollout["spec"].get("paused")) != paused:
            changed = copy.deepcopy(rollout)
            changed["spec"]["paused"] = paused
            self.sim.api.update(rollout, changed)
        word = "paused" if paused else "resumed"
        self.event(rollout, "RolloutPaused" if paused else "RolloutResumed", f"rollout '{name}' {word}")
        return f"rollout '{name}' {word}"

    def undo(self, namespace: str, name: str, to_revision: int = 0) -> str:
        """kubectl argo rollouts undo: the template of an earlier revision (0: the previous one) comes back."""
        rollout = self._get(namespace, name)
        history = {
            int(rs["metadata"].get("annotations", {}).get(REVISION, 0)): rs
            for rs in self.store.owned_by("ReplicaSet", rollout["metadata"]["uid"])
        }
        revisions = sorted(r for r in history if r > 0)
        if to_revision == 0:
            if len(revisions) < 2:
                raise KubectlError(f'no rollout history found for rollout "{name}"')
            to_revision = revisions[-2]
        target = history.get(to_revision)
        if target is None:
            raise KubectlError(f"unable to find specified revision {to_revision} in history")
        template = copy.deepcopy(target["spec"]["template"])
        template["metadata"].get("labels", {}).pop(HASH, None)
        changed = copy.deepcopy(rollout)
        changed["spec"]["template"] = template
        self.sim.api.update(rollout, changed)
        self.event(rollout, "RolloutUndo", f"rollout '{name}' undo to revision {to_revision}")
        return f"rollout '{name}' undo"
