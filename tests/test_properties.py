"""Rolling-update guarantees that hold for any settings, checked over random Deployments (hypothesis).

With honest probes and no faults: active pods never exceed replicas + maxSurge, availability never
drops below replicas - maxUnavailable once the rollout starts, and every rollout completes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simdeploy
from simdeploy.k8s.deployment_util import resolve_fenceposts

int_or_percent = st.one_of(st.integers(0, 6), st.integers(0, 100).map(lambda p: f"{p}%"))
startup = st.one_of(
    st.integers(1, 30).map(lambda s: f"{s}s"),
    st.tuples(st.integers(1, 10), st.integers(0, 20)).map(
        lambda t: {"uniform": {"min": f"{t[0]}s", "max": f"{t[0] + t[1]}s"}}
    ),
    st.tuples(st.integers(2, 10), st.integers(1, 20)).map(
        lambda t: {"lognormal": {"median": f"{t[0]}s", "p95": f"{t[0] + t[1]}s"}}
    ),
    st.lists(st.integers(1, 40), min_size=1, max_size=5).map(lambda v: {"empirical": [f"{s}s" for s in v]}),
)


def _zero(value: int | str) -> bool:
    return value in (0, "0%")


def scenario(replicas, surge, unavailable, period, min_ready, new_startup, seed) -> dict:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "web:1",
                            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 80}, "periodSeconds": period},
                        }
                    ]
                },
            },
        },
    }
    return {
        "metadata": {"name": "property"},
        "seed": seed,
        "duration": "40m",
        "cluster": {"nodes": [{"count": 4, "cpu": "64", "memory": "256Gi"}]},
        "manifests": [{"inline": deployment}],
        "versions": {"web:1": {"startup": "5s", "pull": "0s"}, "web:2": {"startup": new_startup, "pull": "2s"}},
        "timeline": [{"at": "5m", "action": "set-image", "deployment": "web", "image": "web:2"}],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replicas=st.integers(1, 25),
    surge=int_or_percent,
    unavailable=int_or_percent,
    period=st.integers(1, 10),
    min_ready=st.sampled_from([0, 0, 5, 12]),
    new_startup=startup,
    seed=st.integers(0, 2**16),
)
def test_rolling_update_guarantees(replicas, surge, unavailable, period, min_ready, new_startup, seed):
    if _zero(surge) and _zero(unavailable):
        return  # the API server rejects this combination (tested in test_cli)
    max_surge, max_unavailable = resolve_fenceposts(surge, unavailable, replicas)
    max_unavailable = min(max_unavailable, replicas)
    result = simdeploy.load(scenario(replicas, surge, unavailable, period, min_ready, new_startup, seed)).run()
    summary = result["summary"]
    assert summary["peak_pods"] <= replicas + max_surge
    assert summary["max_surge_observed"] <= max_surge
    assert summary["min_available"] >= replicas - max_unavailable
    assert summary["max_unavailable_observed"] <= max_unavailable
    assert summary["rollout_complete_s"] is not None, "the rollout did not complete"
    assert summary["final_image"] == "web:2"
