"""A drill on a real Kubernetes API: preflight, prediction, the faults as a Chaos Toolkit experiment, the runbook
through the real kubectl, observation, comparison with the prediction, the journal, and the clean-up.

The same drill file runs on a kind cluster and on `simdeploy serve`. Every step that touches the cluster is
preceded by checks that need no write (the context is allow-listed, the identity may do what the drill does), and
everything the drill creates lives in a namespace of its own, deleted at the end, however the run ends.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simdeploy.delivery.runbook.engine import RunbookEngine
from simdeploy.drill import chaos
from simdeploy.drill.compare import fidelity
from simdeploy.drill.kube import Context, KubeClient, KubeError, contexts
from simdeploy.drill.observe import Observation
from simdeploy.drill.operator import ClusterOperator, ManualOperator
from simdeploy.drill.timebase import ServedTime, sleep_until, timebase_for
from simdeploy.scenario.drill_build import add_drill_section, build_drill, fault_of, responders_rng, runbook_of
from simdeploy.scenario.drill_loader import Drill

ALLOWED = ("kind-", "simdeploy-")  # kind's contexts, and the ones `simdeploy serve` writes
CLUSTER_SCOPED = ("Node", "Namespace")
EXIT_INTERRUPTED = 130
# What a drill does to the cluster, checked with SelfSubjectAccessReview before anything is written.
PERMISSIONS = (
    ("create", "namespaces", "", ""),
    ("delete", "namespaces", "", ""),
    ("create", "deployments", "apps", ""),
    ("patch", "deployments", "apps", ""),
    ("create", "services", "", ""),
    ("patch", "services", "", ""),
    ("delete", "pods", "", ""),
    ("create", "pods", "", "eviction"),
    ("patch", "nodes", "", ""),
    ("watch", "pods", "", ""),
    ("get", "services", "", "proxy"),
)


class DrillRefused(Exception):
    """The drill cannot start: said before anything is sent to the cluster (exit 2)."""


@dataclass
class Options:
    context: str
    kubeconfig: Path
    allow: tuple[str, ...] = ()
    manual: bool = False
    dry_run: bool = False
    journal: Path | None = None
    calibrate: Path | None = None
    keep_namespace: bool = False
    probe_rate: float = 5.0  # requests per second of drill time
    seed: int | None = None
    kubectl: str = "kubectl"
    say: Callable[[str], None] = print


@dataclass
class Plan:
    """Everything the drill will do, worked out before it does any of it (what --dry-run prints)."""

    drill: Drill
    context: Context
    client: KubeClient
    served: bool
    namespace: str
    run_id: str
    seed: int
    manifests: list[dict]
    nodes: dict[str, str]
    probes: list[tuple[str, str]]
    unsupported: list[str] = field(default_factory=list)


# -- preflight -------------------------------------------------------------------------------------------------


def check_context(options: Options) -> Context:
    """The context, if the kubeconfig has it and it is allow-listed; DrillRefused otherwise (nothing sent yet)."""
    try:
        found = contexts(options.kubeconfig)
    except KubeError as error:
        raise DrillRefused(f"--kubeconfig: {error}") from None
    if options.context not in found:
        known = ", ".join(sorted(found)) or "none"
        raise DrillRefused(f"--context {options.context}: not in {options.kubeconfig} (contexts: {known})")
    if not options.context.startswith(ALLOWED) and options.context not in options.allow:
        raise DrillRefused(
            f"--context {options.context}: drills run only against kind clusters (kind-*) and `simdeploy serve` "
            f"(simdeploy-*); to run this one against {options.context} anyway, add --allow-context {options.context}"
        )
    return found[options.context]


def plan(drill: Drill, options: Options) -> Plan:
    """Read-only preflight: the cluster answers, the identity may do what the drill does, the faults can be
    injected here, the nodes map; and the run's namespace and manifests."""
    context = check_context(options)
    client = KubeClient(context)
    try:
        served = isinstance(timebase_for(client), ServedTime)
        denied = [p for p in PERMISSIONS if not client.can_i(p[0], p[1], p[2], sub=p[3])]
        nodes = _node_map(drill, client, served)
    except KubeError as error:
        raise DrillRefused(f"context {context.name} ({context.server}): {error}") from None
    if denied:
        listed = ", ".join(f"{verb} {resource}{'/' + sub if sub else ''}" for verb, resource, _, sub in denied)
        raise DrillRefused(f"context {context.name}: this identity may not {listed}")
    run_id = secrets.token_hex(3)
    namespace = _namespace_name(drill.name, run_id)
    seed = drill.scenario.spec.seed if options.seed is None else options.seed
    manifests = _manifests(drill, namespace, served)
    probes = _probes(drill)
    found = Plan(drill, context, client, served, namespace, run_id, seed, manifests, nodes, probes)
    found.unsupported = chaos.unsupported(drill.scenario, served)
    return found


def _namespace_name(drill: str, run_id: str) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", drill.lower())[:50].strip("-")
    return f"sd-{base}-{run_id}"


def _node_map(drill: Drill, client: KubeClient, served: bool) -> dict[str, str]:
    """The scenario's nodes on this cluster: the same names on serve; on a real cluster, its worker nodes in order."""
    wanted = sorted(_scenario_nodes(drill))
    if served:
        return {name: name for name in wanted}
    items = client.list("Node").get("items", [])
    workers = sorted(
        n["metadata"]["name"]
        for n in items
        if "node-role.kubernetes.io/control-plane" not in (n["metadata"].get("labels") or {})
    )
    named = {getattr(a, "node", None) for a in drill.scenario.spec.timeline} - {None}
    if len(workers) < len(wanted) and named:
        raise KubeError(0, f"the scenario names nodes of its {len(wanted)}; the cluster has {len(workers)} workers")
    return dict(zip(wanted, workers, strict=False))


def _scenario_nodes(drill: Drill) -> list[str]:
    names = []
    for group in drill.scenario.spec.cluster.nodes:
        names += [group.name] if group.name else [f"{group.name_prefix}-{i}" for i in range(1, group.count + 1)]
    return names


def _manifests(drill: Drill, namespace: str, served: bool) -> list[dict]:
    """The scenario's objects for this run: in the run's namespace, and running the demo app on a real cluster."""
    objects = [_in_namespace(obj, namespace) for obj in drill.scenario.manifests if obj["kind"] not in CLUSTER_SCOPED]
    return objects if served else _demo(drill, objects)


def _in_namespace(obj: dict, namespace: str) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        obj["metadata"].pop(key, None)
    obj.pop("status", None)
    return obj


def _demo(drill: Drill, objects: list[dict]) -> list[dict]:
    from simdeploy.drill.demo_app import demo_manifests

    return demo_manifests(objects, drill.scenario.spec.versions)


def _probes(drill: Drill) -> list[tuple[str, str]]:
    """(Service, port) for each Service the scenario sends traffic to: the probe load goes there."""
    found = []
    for source in drill.scenario.spec.traffic:
        if source.service is None:
            continue
        service = next(
            (o for o in drill.scenario.manifests if o["kind"] == "Service" and o["metadata"]["name"] == source.service),
            None,
        )
        ports = (service or {}).get("spec", {}).get("ports") or [{}]
        port = ports[0].get("name") or str(ports[0].get("port", 80))
        if (source.service, port) not in found:
            found.append((source.service, port))
    return found


# -- the run ---------------------------------------------------------------------------------------------------


def run(drill: Drill, options: Options) -> tuple[dict, int]:
    """Run the drill on the cluster; the drill's document and the exit status (0, 1, or 130 when interrupted)."""
    found = plan(drill, options)
    if found.unsupported:
        raise DrillRefused("this cluster cannot inject: " + "; ".join(found.unsupported))
    say = options.say
    predicted = build_drill(drill, found.seed).run()
    spec = drill.scenario.spec
    client, namespace = found.client, found.namespace
    workdir = Path(tempfile.mkdtemp(prefix="simdeploy-drill-"))
    timebase = timebase_for(client)
    status, journal, observation, engine = "completed", None, None, None
    stop = threading.Event()
    previous = _on_signals(stop)
    try:
        say(f"drill {drill.name}: namespace {namespace} on {found.context.name} ({timebase.describe()})")
        labels = {"simdeploy.io/drill": drill.name, "simdeploy.io/run": found.run_id}
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})
        for obj in found.manifests:
            client.create(obj)
        timebase.start()
        observation = Observation(
            client,
            namespace,
            drill.namespace,
            timebase,
            drill.scenario.rule_groups,
            spec.cluster.scrape_interval,
            spec.cluster.evaluation_interval,
        )
        operator_class = ManualOperator if options.manual else ClusterOperator
        operator = operator_class(
            options.kubectl,
            client,
            namespace,
            found.served,
            found.nodes,
            lambda objects: _manifests_for(drill, objects, namespace, found.served),
            workdir,
            say,
        )
        with observation.lock:
            engine = RunbookEngine(observation, runbook_of(drill, namespace), responders_rng(found.seed), operator)
        observation.start(found.probes, options.probe_rate, responders_rng(found.seed + 1))
        _wait_until_available(observation, drill, timebase, stop)
        target = chaos.Target(
            kubeconfig=str(found.context.kubeconfig),
            context=found.context.name,
            namespace=namespace,
            served=found.served,
            zero=_zero(timebase),
            nodes=found.nodes,
            manifests=lambda objects: _manifests_for(drill, objects, namespace, found.served),
            containers=lambda _ns, name, container, image: _containers(drill, name, container, image, found.served),
        )
        experiment = chaos.experiment(drill.scenario, drill.name, target, spec.duration)
        _write(workdir / "experiment.json", experiment)
        journal = chaos.run(experiment, observation)
        status = "interrupted" if journal.get("status") == "interrupted" or stop.is_set() else "completed"
    except KeyboardInterrupt:  # SIGINT, or SIGTERM (see _on_signals), before or after the experiment ran
        status = "interrupted"
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        if observation is not None:
            observation.stop()
        if not options.keep_namespace:
            _delete_namespace(client, namespace, say)
    observed = None
    if observation is not None:
        observed = observation.result(drill.scenario.name, found.seed, spec.duration, predicted["versions"])
    if observed is not None and engine is not None:
        add_drill_section(drill, engine, observed)
    document = _document(found, predicted, observed, journal, status, operator_commands(engine))
    if options.calibrate is not None and observed is not None:
        from simdeploy.drill.calibrate import calibration

        _write_text(options.calibrate, calibration(drill, observation))
    if options.journal is not None:
        options.journal.mkdir(parents=True, exist_ok=True)
        _write(options.journal / "journal.json", journal or {"status": status, "run": [], "rollbacks": []})
        _write(options.journal / "result.json", document)
        if (workdir / "experiment.json").exists():
            shutil.copy(workdir / "experiment.json", options.journal / "experiment.json")
    shutil.rmtree(workdir, ignore_errors=True)
    exit_code = EXIT_INTERRUPTED if status == "interrupted" else (0 if document["verdict"] == "pass" else 1)
    return document, exit_code


def operator_commands(engine: RunbookEngine | None) -> list[dict]:
    operator = getattr(engine, "operator", None)
    return list(getattr(operator, "commands", []))


def _manifests_for(drill: Drill, objects: list[dict], namespace: str, served: bool) -> list[dict]:
    mapped = [_in_namespace(o, namespace) for o in objects if o.get("kind") not in CLUSTER_SCOPED]
    return mapped if served else _demo(drill, mapped)


def _containers(drill: Drill, deployment: str, container: str, image: str, served: bool) -> list[dict]:
    """The containers part of a `set image` patch: the image (serve), or the demo app with that image's behaviour."""
    named = []
    for obj in drill.scenario.manifests:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == deployment:
            named = [c for c in obj["spec"]["template"]["spec"]["containers"] if container in ("*", c["name"])]
    if served:
        return [{"name": c["name"], "image": image} for c in named]
    from simdeploy.drill.demo_app import demo_container

    versions = drill.scenario.spec.versions
    return [demo_container({**c, "image": image}, versions) for c in named]


def _zero(timebase) -> float:
    return timebase.zero


def _wait_until_available(observation: Observation, drill: Drill, timebase, stop: threading.Event) -> None:
    """The scenario's Deployments available before the faults come (the steady state the experiment checks)."""
    names = [o["metadata"]["name"] for o in drill.scenario.manifests if o["kind"] == "Deployment"]
    deadline = min(fault_of(drill) or 300.0, 300.0)
    while timebase.now() < deadline:
        with observation.lock:
            found = [d for d in observation.store.list("Deployment") if d["metadata"]["name"] in names]
            if len(found) == len(names) and all(_available(d) for d in found):
                return
        if stop.wait(0.2):
            raise KeyboardInterrupt
    sleep_until(timebase, 0.0, stop)


def _available(deployment: dict) -> bool:
    status = deployment.get("status") or {}
    return status.get("availableReplicas", 0) >= deployment["spec"].get("replicas", 1)


def _on_signals(stop: threading.Event):
    """SIGINT and SIGTERM interrupt the drill as Ctrl-C does: chaoslib then marks its journal "interrupted" and
    plays the rollbacks (the `always` strategy), and the runner deletes the namespace."""

    def interrupt(_signum, _frame):
        stop.set()
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, interrupt), signal.signal(signal.SIGTERM, interrupt)


NAMESPACE_GONE_TIMEOUT = 180.0  # s of wall time: the namespace controller deletes pods gracefully


def _delete_namespace(client: KubeClient, namespace: str, say: Callable[[str], None]) -> None:
    """Delete the drill's namespace and wait until it is gone, as `kubectl delete namespace` does."""
    try:
        client.delete("Namespace", None, namespace)
        deadline = time.monotonic() + NAMESPACE_GONE_TIMEOUT
        while client.get("Namespace", None, namespace) is not None:
            if time.monotonic() > deadline:
                say(f"namespace {namespace} is still terminating; it will go on its own")
                return
            time.sleep(0.5)
        say(f"namespace {namespace} deleted")
    except KubeError as error:
        say(f"could not delete namespace {namespace}: {error}")


def _document(found: Plan, predicted: dict, observed: dict | None, journal: dict | None, status: str, commands) -> dict:
    rows = fidelity(predicted, observed, found.drill.spec.fidelity) if observed is not None else []
    chaos_summary = chaos.summary(journal) if journal is not None else {"status": status}
    drill = (observed or {}).get("drill") or {}
    reasons = list(drill.get("reasons", []))
    reasons += [f"fidelity {row['name']}: {row['shown']}" for row in rows if row["verdict"] == "fail"]
    reasons += chaos_summary.get("problems", [])
    if status == "interrupted":
        reasons.insert(0, "interrupted")
    return {
        "drill": found.drill.name,
        "run": found.run_id,
        "context": found.context.name,
        "namespace": found.namespace,
        "served": found.served,
        "seed": found.seed,
        "status": status,
        "predicted": predicted,
        "observed": observed,
        "fidelity": rows,
        "chaos": chaos_summary,
        "commands": commands,
        "verdict": "pass" if not reasons else "fail",
        "reasons": reasons,
    }


def _write(path: Path, document: dict) -> None:
    _write_text(path, json.dumps(document, indent=2, default=str) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def dry_run_lines(found: Plan) -> list[str]:
    """What the drill would do, in order, without doing any of it."""
    from simdeploy.drill.operator import aimed

    drill = found.drill
    lines = [
        f"context {found.context.name} ({found.context.server}), {'simdeploy serve' if found.served else 'a cluster'}",
        f"create namespace {found.namespace} (labels simdeploy.io/drill={drill.name}, simdeploy.io/run={found.run_id})",
    ]
    for obj in found.manifests:
        images = [c["image"] for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])]
        lines.append(f"create {obj['kind']}/{obj['metadata']['name']}" + (f" ({', '.join(images)})" if images else ""))
    lines += [f"probe service {service}:{port} at the proxy" for service, port in found.probes]
    target = chaos.Target("KUBECONFIG", found.context.name, found.namespace, found.served, 0.0, found.nodes)
    experiment = chaos.experiment(drill.scenario, drill.name, target, drill.scenario.spec.duration)
    lines += [
        f"chaos: {activity['name']}" for activity in experiment["method"] if not activity["name"].startswith("wait ")
    ]
    lines += [f"chaos rollback: {activity['name']}" for activity in experiment["rollbacks"]]
    trigger = drill.runbook.trigger
    lines.append(f"runbook {drill.runbook.name or drill.name}, paged by {trigger.model_dump(exclude_none=True)}")
    for index, step in enumerate(drill.runbook.steps):
        command = drill.commands.get(index)
        if command is not None:
            manifest = "<the step's manifests, in the drill's namespace>" if command.command == "apply" else None
            text = "kubectl " + " ".join(aimed(command, found.namespace, found.nodes, manifest))
        else:
            text = step.action
        lines.append(f"step {index + 1} {step.name}: {text}")
    lines += [f"cannot inject here: {problem}" for problem in found.unsupported]
    lines.append(f"delete namespace {found.namespace}")
    return lines
