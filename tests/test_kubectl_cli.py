"""Runbook kubectl lines (k8s/kubectl_cli.py): the supported subset parsed as kubectl parses it, the rest refused."""

from __future__ import annotations

import pytest

from simdeploy.k8s.kubectl_cli import KubectlLineError, parse_kubectl


@pytest.mark.parametrize(
    ("line", "command", "kind", "names", "namespace", "options"),
    [
        ("kubectl rollout undo deployment/payments-api -n production", "rollout undo", "Deployment",
         ("payments-api",), "production", {}),
        ("rollout undo deploy payments-api --to-revision=42 --namespace production", "rollout undo", "Deployment",
         ("payments-api",), "production", {"to-revision": 42}),
        ("kubectl rollout undo deployments.apps/web --to-revision 3", "rollout undo", "Deployment", ("web",), None,
         {"to-revision": 3}),
        ("kubectl -n production rollout status deployment/payments-api --timeout=5m", "rollout status",
         "Deployment", ("payments-api",), "production", {"timeout": "5m"}),
        ("kubectl rollout restart deploy/web -nprod", "rollout restart", "Deployment", ("web",), "prod", {}),
        ("kubectl set image deployment/payments-api api=registry.example.com/payments-api:2.8.1", "set image",
         "Deployment", ("payments-api",), None, {"images": {"api": "registry.example.com/payments-api:2.8.1"}}),
        ("kubectl scale --replicas=8 deployment/payments-api", "scale", "Deployment", ("payments-api",), None,
         {"replicas": 8}),
        ("kubectl scale deployment payments-api --replicas 0", "scale", "Deployment", ("payments-api",), None,
         {"replicas": 0}),
        ("kubectl patch svc payments-api -p '{\"spec\":{\"selector\":{\"color\":\"blue\"}}}'", "patch", "Service",
         ("payments-api",), None, {"patch": '{"spec":{"selector":{"color":"blue"}}}'}),
        ("kubectl patch deployment/web --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/paused\"}]'", "patch",
         "Deployment", ("web",), None, {"type": "json", "patch": '[{"op":"remove","path":"/spec/paused"}]'}),
        ("kubectl delete pod web-1 web-2 --grace-period=0 --force", "delete", "Pod", ("web-1", "web-2"), None,
         {"grace-period": 0, "force": True}),
        ("kubectl delete pods -l app=web,tier=front --now", "delete", "Pod", (), None,
         {"selector": "app=web,tier=front", "now": True}),
        ("kubectl drain node-2 --ignore-daemonsets --delete-emptydir-data", "drain", "Node", ("node-2",), None,
         {"ignore-daemonsets": True, "delete-emptydir-data": True}),
        ("kubectl cordon node-1", "cordon", "Node", ("node-1",), None, {}),
        ("kubectl apply -f manifests/payments-api.yaml", "apply", None, (), None,
         {"filename": ["manifests/payments-api.yaml"]}),
        ("kubectl wait --for=condition=Available deployment/web --timeout=90s", "wait", "Deployment", ("web",),
         None, {"for": "condition=Available", "timeout": "90s"}),
        ("kubectl get pods -n production -w", "get", "Pod", (), "production", {"watch": True}),
        ("kubectl argo rollouts promote payments-api --full -n production", "argo rollouts promote", "Rollout",
         ("payments-api",), "production", {"full": True}),
        ("kubectl argo rollouts abort payments-api", "argo rollouts abort", "Rollout", ("payments-api",), None, {}),
        ("kubectl argo rollouts undo payments-api --to-revision=2", "argo rollouts undo", "Rollout",
         ("payments-api",), None, {"to-revision": 2}),
    ],
)  # fmt: skip
def test_lines_of_the_subset_parse_as_kubectl_reads_them(line, command, kind, names, namespace, options):
    parsed = parse_kubectl(line)
    assert (parsed.command, parsed.kind, parsed.names, parsed.namespace) == (command, kind, names, namespace)
    assert parsed.options == options


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("kubectl exec -it web-1 -- sh", "unsupported command 'exec -it web-1'"),
        ("kubectl rollout undo", "needs a resource"),
        ("kubectl rollout undo service/web", "does not act on 'service'"),
        ("kubectl rollout undo deployment/web --to-revision=two", "expected an integer"),
        ("kubectl rollout undo deployment/web --dry-run=server", "unknown flag '--dry-run'"),
        ("kubectl scale deployment/web", "needs --replicas"),
        ("kubectl set image deployment/web", "needs CONTAINER=IMAGE"),
        ("kubectl patch deployment/web", "needs -p"),
        ("kubectl patch deployment/web -p {} --type=xml", "--type must be"),
        ("kubectl wait deployment/web --for=jsonpath={.status}", "--for=condition"),
        ("kubectl rollout status deployment/web --timeout=soon", "invalid --timeout"),
        ("kubectl apply", "needs -f"),
        ("kubectl delete deployment/web", "does not act on 'deployment'"),
        ("kubectl drain", "one node name"),
        ("kubectl rollout undo deployment/web -n", "flag needs an argument"),
        ("kubectl get pods 'unterminated", "cannot split"),
        ("", "empty command"),
    ],
)
def test_lines_outside_the_subset_are_refused_with_the_reason(line, reason):
    with pytest.raises(KubectlLineError) as refused:
        parse_kubectl(line)
    assert reason in str(refused.value)


def test_read_only_and_blocking_commands_are_known():
    assert parse_kubectl("kubectl get pods").reads_only
    assert parse_kubectl("kubectl rollout history deploy/web").reads_only
    assert parse_kubectl("kubectl rollout status deploy/web").blocks
    assert not parse_kubectl("kubectl rollout undo deploy/web").reads_only
