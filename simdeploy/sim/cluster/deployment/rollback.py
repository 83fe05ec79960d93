"""The deprecated server-side rollback (annotation deprecated.deployment.rollback.to).

Follows pkg/controller/deployment/rollback.go; `kubectl rollout undo` is client-side (sim/kubectl.py).
"""

from __future__ import annotations

import copy

from simdeploy.k8s import deployment_util as du


def rollback(dc, d: dict, rs_list: list[dict]) -> None:
    new_rs, all_old_rss = dc.get_all_replica_sets_and_sync_revision(d, rs_list, True)
    all_rss = [*all_old_rss, new_rs] if new_rs is not None else list(all_old_rss)
    annotations = d["metadata"]["annotations"]
    try:
        to_revision = int(annotations[du.ROLLBACK_TO_ANNOTATION])
    except ValueError:
        to_revision = -1
    if to_revision == 0:
        to_revision = du.last_revision(all_rss)
        if to_revision == 0:
            dc.event(
                d,
                "DeploymentRollbackRevisionNotFound",
                "Unable to find last revision.",
                warning=True,
            )
            _update_deployment_and_clear_rollback_to(dc, d)
            return
    for rs in all_rss:
        if du.revision(rs) != to_revision:
            continue
        if du.equal_ignore_hash(d["spec"]["template"], rs["spec"]["template"]):
            dc.event(
                d,
                "DeploymentRollbackTemplateUnchanged",
                f"The rollback revision contains the same template as current deployment {d['metadata']['name']!r}",
                warning=True,
            )
        else:
            template = copy.deepcopy(rs["spec"]["template"])
            template["metadata"].get("labels", {}).pop(du.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
            d["spec"]["template"] = template
            dc.event(
                d,
                "DeploymentRollback",
                f"Rolled back deployment {d['metadata']['name']!r} to revision {to_revision}",
            )
        _update_deployment_and_clear_rollback_to(dc, d, spec_changed=True)
        return
    dc.event(
        d,
        "DeploymentRollbackRevisionNotFound",
        "Unable to find the revision to rollback to.",
        warning=True,
    )
    _update_deployment_and_clear_rollback_to(dc, d)


def _update_deployment_and_clear_rollback_to(dc, d: dict, spec_changed: bool = False) -> None:
    d["metadata"]["annotations"].pop(du.ROLLBACK_TO_ANNOTATION, None)
    dc.store.update(d, spec_changed=spec_changed)
