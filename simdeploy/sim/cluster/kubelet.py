"""The kubelets: image pulls, container starts, probes, restarts with back-off, and graceful termination.

Each container run is drawn from its image's behaviour profile; the kubelet then schedules only the
moments at which something changes (a probe result flips, the process exits, a kill completes), so a
pod whose state cannot change costs no events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from simdeploy.k8s.timeutil import format_time, sim_to_datetime
from simdeploy.sim.behaviour import ContainerRun, VersionBehaviour
from simdeploy.sim.clock import Clock
from simdeploy.sim.cluster.container import Container, next_change, pre_stop_seconds
from simdeploy.sim.cluster.images import BACKOFF_BASE, BACKOFF_CAP, ImagePulls, NodeRuntime
from simdeploy.sim.cluster.pod_status import finished_phase, write_pod_status
from simdeploy.sim.cluster.probes import INF, Probe
from simdeploy.sim.cluster.store import DELETED, MODIFIED, Store
from simdeploy.sim.recorder import Recorder

# CrashLoopBackOff: BACKOFF_BASE doubling to BACKOFF_CAP (images.py), reset
# once a container ran more than 2 x 300 s (client-go util/flowcontrol backoff.go hasExpired).
BACKOFF_RESET_AFTER = 600.0
DEFAULT_GRACE = 30.0  # terminationGracePeriodSeconds
# The runtime's stop timeout never drops below 2 s (the "one-off 2 second extension").
MIN_STOP_TIMEOUT = 2.0


@dataclass
class PodRuntime:
    """A pod admitted to a node."""

    pod: dict
    node: str
    containers: list[Container]
    epoch: int = 0
    terminating: bool = False
    ready: bool = False
    running: bool = False
    serving: bool = False
    init: list[Container] = field(default_factory=list)  # init containers, run one after the other
    initialized: bool = True  # every init container has completed
    phase: str | None = None  # Succeeded or Failed once the pod's containers have stopped for good

    def container(self, name: str) -> Container | None:
        return next((c for c in (*self.init, *self.containers) if c.name == name), None)


class Kubelet(ImagePulls):
    """All kubelets of the cluster; reacts to pods bound to nodes and to graceful deletions."""

    def __init__(
        self,
        clock: Clock,
        store: Store,
        rng: random.Random,
        recorder: Recorder,
        behaviours: dict[str, VersionBehaviour],
        container_start: float = 1.0,
    ):
        self.clock = clock
        self.store = store
        self.rng = rng
        self.recorder = recorder
        self.behaviours = behaviours
        self.container_start = container_start
        self.nodes: dict[str, NodeRuntime] = {}
        self.pods: dict[str, PodRuntime] = {}  # by pod uid
        self._next_ip = 0
        self.serving_listeners: list[Callable[[dict, bool], None]] = []
        self._pre_stops: dict[int, tuple[dict, float]] = {}
        # Called with (pod, container) each time a container starts: what decides, outside the kubelet, when a
        # container's work is done (a schema migration) and ends it with end_container().
        self.container_listeners: list[Callable[[dict, Container], None]] = []
        store.watch("Pod", self._on_pod)

    # -- watch -----------------------------------------------------------------

    def _on_pod(self, event_type: str, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        runtime = self.pods.get(uid)
        if event_type == DELETED:
            if runtime is not None:
                runtime.epoch += 1
                del self.pods[uid]
            return
        if event_type != MODIFIED:
            return
        if runtime is None:
            node = pod["spec"].get("nodeName")
            if node and not pod["metadata"].get("deletionTimestamp"):
                self._admit(pod, node)
        elif pod["metadata"].get("deletionTimestamp") and not runtime.terminating:
            self._terminate(runtime)

    # -- admission, pulls, start -----------------------------------------------

    def node(self, name: str) -> NodeRuntime:
        return self.nodes.setdefault(name, NodeRuntime(name))

    def _admit(self, pod: dict, node_name: str) -> None:
        node = self.node(node_name)
        containers = [self._container(spec) for spec in pod["spec"]["containers"]]
        init = [self._container(spec, init=True) for spec in pod["spec"].get("initContainers") or ()]
        runtime = PodRuntime(pod, node_name, containers, init=init, initialized=not init)
        for container in containers if init else ():
            container.waiting_reason = "PodInitializing"
        self.pods[pod["metadata"]["uid"]] = runtime
        if not node.alive:
            return
        self._next_ip += 1
        status = pod.setdefault("status", {})
        status["hostIP"] = _node_ip(node_name)
        status["podIP"] = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
        status["startTime"] = self.store.timestamp()
        missing = [c for c in (*init, *containers) if c.behaviour is None]
        if missing:
            for container in missing:
                self._pull_missing(runtime, container, BACKOFF_BASE)
            return  # the pod stays Pending: its containers can never start
        ready_at = self.clock.now
        for container in (*init, *containers):
            ready_at = max(ready_at, self._pull(runtime, node, container))
        epoch = runtime.epoch
        self.clock.call_at(ready_at + self.container_start, lambda: self._start_all(runtime, epoch))

    def _container(self, spec: dict, init: bool = False) -> Container:
        return Container(
            init=init,
            name=spec["name"],
            image=spec["image"],
            behaviour=self.behaviours.get(spec["image"]),  # None: an image no registry has
            startup_probe=Probe.from_spec(spec.get("startupProbe")),
            readiness_probe=Probe.from_spec(spec.get("readinessProbe")),
            liveness_probe=Probe.from_spec(spec.get("livenessProbe")),
            pre_stop=self._pre_stop(spec),
        )

    def _pre_stop(self, spec: dict) -> float:
        """pre_stop_seconds, remembered per container spec (pods of one ReplicaSet share theirs)."""
        cached = self._pre_stops.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = self._pre_stops[id(spec)] = (spec, pre_stop_seconds(spec))
        return cached[1]

    def _start_all(self, runtime: PodRuntime, epoch: int) -> None:
        if runtime.epoch != epoch or not self.nodes[runtime.node].alive:
            return
        runtime.running = True
        waiting = next((c for c in runtime.init if c.state != "terminated"), None)
        for container in [waiting] if waiting is not None else runtime.containers:
            self._start(runtime, container)
        self._write_status(runtime)

    def _start(self, runtime: PodRuntime, container: Container) -> None:
        now = self.clock.now
        container.behaviour = self.behaviours[container.image]  # a restart runs the image as it behaves now
        container.state = "running"
        container.run = container.behaviour.draw(self.rng, now)
        container.started = container.startup_probe is None
        container.started_at = now
        container.ready = False
        container.reported_unready = False
        container.serving = False
        self.recorder.object_event(runtime.pod, "Created", f"Created container: {container.name}")
        self.recorder.object_event(runtime.pod, "Started", f"Started container {container.name}")
        self._plan(runtime, container)
        for listener in self.container_listeners:
            listener(runtime.pod, container)

    # -- probes ----------------------------------------------------------------

    def _plan(self, runtime: PodRuntime, container: Container) -> None:
        """Schedule the next moment this container's state changes, if there is one."""
        change = next_change(container, self.clock.now)
        if change is None:
            return
        moment, what = change
        epoch, run = runtime.epoch, container.run
        self.clock.call_at(moment, lambda: self._change(runtime, container, epoch, run, what))

    def _change(self, runtime: PodRuntime, c: Container, epoch: int, run: ContainerRun, what: str) -> None:
        if runtime.epoch != epoch or c.run is not run or c.state != "running":
            return  # planned for a run or a pod state that no longer exists
        if what in ("serves", "hangs"):
            c.serving = what == "serves"
            self._plan(runtime, c)
            self._update_serving(runtime)
            return
        if what == "started":
            c.started = True
            c.started_at = self.clock.now
        elif what == "readiness-failing":
            c.reported_unready = True
            refused = self.clock.now < c.run.live
            detail = "dial tcp: connect: connection refused" if refused else "HTTP probe failed with statuscode: 503"
            self.recorder.object_event(runtime.pod, "Unhealthy", f"Readiness probe failed: {detail}", warning=True)
            self._plan(runtime, c)
            return
        elif what == "ready":
            c.ready = True
        elif what == "unready":
            c.ready = False
            self.recorder.object_event(
                runtime.pod,
                "Unhealthy",
                "Readiness probe failed: context deadline exceeded",
                warning=True,
            )
        elif what == "exit":
            code = c.behaviour.exit_code
            self._exited(runtime, c, code, "Completed" if code == 0 else "Error")
            return
        else:
            probe_name = "Startup" if what == "startup-failed" else "Liveness"
            self.recorder.object_event(runtime.pod, "Unhealthy", f"{probe_name} probe failed", warning=True)
            self.recorder.object_event(
                runtime.pod,
                "Killing",
                f"Container {c.name} failed {probe_name.lower()} probe, will be restarted",
            )
            self._kill(runtime, c, c.startup_probe if what == "startup-failed" else c.liveness_probe)
            return
        self._plan(runtime, c)
        self._write_status(runtime)

    # -- kills, exits and restarts ----------------------------------------------

    def _stop_time(self, c: Container, grace: float) -> tuple[float, bool]:
        """Seconds from a kill until the container has stopped, and whether SIGKILL stopped it.

        kuberuntime_container.go killContainer: the preStop hook runs for at most the grace period;
        then StopContainer gets the grace left, in whole seconds (executePreStopHook truncates the
        time the hook took), but never less than 2 s; SIGTERM, then SIGKILL when that runs out.
        """
        pre_stop = min(c.pre_stop, grace)
        stop_timeout = max(grace - int(pre_stop), MIN_STOP_TIMEOUT)
        shutdown = c.behaviour.shutdown.sample(self.rng)
        return pre_stop + min(shutdown, stop_timeout), shutdown > stop_timeout

    def _kill(self, runtime: PodRuntime, c: Container, probe: Probe) -> None:
        """A failed liveness or startup probe: stop the container with the grace period, then restart it.

        The grace is the probe's terminationGracePeriodSeconds if set, else the pod's
        (kuberuntime_container.go setTerminationGracePeriod). The container keeps running until it
        has stopped; its back-off counts from then (FinishedAt).
        """
        grace = probe.termination_grace_period
        if grace is None:
            grace = float(runtime.pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE))
        took, sigkill = self._stop_time(c, grace)
        c.state = "stopping"
        c.stops_at = self.clock.now + took
        epoch, run = runtime.epoch, c.run
        self.clock.call_later(took, lambda: self._killed(runtime, c, epoch, run, 137 if sigkill else 143))
        self._update_serving(runtime)

    def _killed(self, runtime: PodRuntime, c: Container, epoch: int, run: ContainerRun, exit_code: int) -> None:
        if runtime.epoch == epoch and c.run is run and c.state == "stopping":
            self._exited(runtime, c, exit_code, "Error")

    def end_container(self, pod_uid: str, name: str, exit_code: int) -> bool:
        """End a running container now with `exit_code`, as if its process had exited (what a migration's
        runner does when its work is done); False when there is no such running container."""
        runtime = self.pods.get(pod_uid)
        c = runtime.container(name) if runtime is not None and not runtime.terminating else None
        if c is None or c.state != "running":
            return False
        self._exited(runtime, c, exit_code, "Completed" if exit_code == 0 else "Error")
        return True

    def _exited(self, runtime: PodRuntime, c: Container, exit_code: int, reason: str) -> None:
        now = self.clock.now
        ran = now - c.run.started
        c.prior_exit = c.last_exit
        c.last_exit = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": self._stamp(c.run.started),
            "finishedAt": self.store.timestamp(),
        }
        c.ready = False
        c.serving = False
        c.started = False
        policy = runtime.pod["spec"].get("restartPolicy", "Always")
        if (c.init and exit_code == 0) or policy == "Never" or (policy == "OnFailure" and exit_code == 0):
            self._stopped_for_good(runtime, c, exit_code)
            return
        c.state = "waiting"
        if ran > BACKOFF_RESET_AFTER + 1e-6:  # (the margin absorbs float rounding of simulated time)
            c.next_backoff = 0.0
        delay = c.next_backoff
        c.next_backoff = BACKOFF_BASE if delay == 0 else min(delay * 2, BACKOFF_CAP)
        c.waiting_reason = "CrashLoopBackOff" if delay > 0 else "ContainerCreating"
        if delay > 0:
            self.recorder.object_event(
                runtime.pod,
                "BackOff",
                f"Back-off restarting failed container {c.name}",
                warning=True,
            )
        epoch = runtime.epoch
        self.clock.call_later(delay, lambda: self._restart(runtime, c, epoch))
        self._update_serving(runtime)
        self._write_status(runtime)

    def _stopped_for_good(self, runtime: PodRuntime, c: Container, exit_code: int) -> None:
        """A container that is not restarted: the next init container or the app's start, or the pod's end."""
        c.state = "terminated"
        if c.init and exit_code == 0:
            if all(i.state == "terminated" for i in runtime.init):
                runtime.initialized = True
            epoch = runtime.epoch
            self.clock.call_later(0.0, lambda: self._start_all(runtime, epoch))
        elif c.init:
            runtime.phase = "Failed"  # restartPolicy Never: a failed init container fails the pod
        else:
            runtime.phase = finished_phase(runtime.containers)
        if runtime.phase is not None:
            runtime.running = False
        self._update_serving(runtime)
        self._write_status(runtime)

    def _restart(self, runtime: PodRuntime, c: Container, epoch: int) -> None:
        if runtime.epoch != epoch or not self.nodes[runtime.node].alive:
            return
        c.restart_count += 1
        self._start(runtime, c)
        self._write_status(runtime)

    # -- termination -----------------------------------------------------------

    def _terminate(self, runtime: PodRuntime) -> None:
        """Graceful deletion: preStop, then SIGTERM, then SIGKILL when the grace period ends."""
        runtime.terminating = True
        runtime.epoch += 1
        if not self.nodes[runtime.node].alive:
            return  # nobody is left to stop the containers: the pod stays Terminating
        pod = runtime.pod
        now = self.clock.now
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds", DEFAULT_GRACE))
        gone = now
        epoch = runtime.epoch
        for c in (*runtime.init, *runtime.containers):
            if c.state == "stopping":  # already being killed for a failed probe
                gone = max(gone, c.stops_at)
            if c.state != "running":
                continue
            self.recorder.object_event(pod, "Killing", f"Stopping container {c.name}")
            gone = max(gone, now + self._stop_time(c, grace)[0])
            # On SIGTERM, after preStop, the app closes its listener: new requests are refused.
            self.clock.call_at(now + min(c.pre_stop, grace), lambda c=c: self._sigterm(runtime, c, epoch))
        self.clock.call_at(gone, lambda: self._remove(runtime, epoch))

    def _sigterm(self, runtime: PodRuntime, c: Container, epoch: int) -> None:
        if runtime.epoch == epoch and c.serving:
            c.serving = False
            self._update_serving(runtime)

    def _remove(self, runtime: PodRuntime, epoch: int) -> None:
        """The containers have stopped: the kubelet confirms the deletion (unless its node died meanwhile)."""
        meta = runtime.pod["metadata"]
        if runtime.epoch != epoch:
            return
        if self.store.find("Pod", meta["namespace"], meta["name"]) is runtime.pod:
            self.store.delete("Pod", meta["namespace"], meta["name"])

    # -- nodes -----------------------------------------------------------------

    def fail_node(self, name: str) -> None:
        """The machine dies: containers stop at once and nothing reports it to the API."""
        node = self.node(name)
        node.alive = False
        for runtime in self.pods.values():
            if runtime.node == name:
                runtime.epoch += 1
                runtime.running = False
                for c in (*runtime.init, *runtime.containers):
                    c.state = "terminated"
                    c.ready = False
                    c.serving = False
                self._update_serving(runtime)

    # -- behaviour changes -----------------------------------------------------

    def change_behaviour(self, behaviour: VersionBehaviour, hang_now: bool, exit_now: bool) -> None:
        """Apply a new profile to running containers of that image; new runs draw from it anyway."""
        now = self.clock.now
        for runtime in self.pods.values():
            if runtime.terminating or not runtime.running:
                continue
            for c in runtime.containers:
                if c.image != behaviour.image or c.state != "running":
                    continue
                c.behaviour = behaviour
                run = c.run
                if hang_now and behaviour.hang_after is not None:
                    run = replace(run, hangs=now + behaviour.hang_after.sample(self.rng))
                if exit_now and behaviour.exit_after is not None:
                    run = replace(run, exits=now + behaviour.exit_after.sample(self.rng))
                if behaviour.never_ready:
                    run = replace(run, ready=INF, serves=INF)
                if run is not c.run:
                    c.run = run
                    self._plan(runtime, c)

    # -- status ----------------------------------------------------------------

    def _update_serving(self, runtime: PodRuntime) -> None:
        serving = all(c.state == "running" and c.serving for c in runtime.containers)
        if serving != runtime.serving:
            runtime.serving = serving
            for listener in self.serving_listeners:
                listener(runtime.pod, serving)

    def _stamp(self, moment: float) -> str:
        return format_time(sim_to_datetime(self.store.epoch, moment))

    def _write_status(self, runtime: PodRuntime) -> None:
        pod = runtime.pod
        if self.store.find("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"]) is not pod:
            return
        ready = write_pod_status(
            pod["status"],
            runtime.init,
            runtime.containers,
            runtime.initialized,
            runtime.phase,
            self._stamp,
            self.store.timestamp(),
        )
        if ready != runtime.ready:
            runtime.ready = ready
            message = "Pod is ready: all containers passed readiness" if ready else "Pod is not ready"
            self.recorder.object_event(pod, "Ready" if ready else "NotReady", message)
        self.store.update(pod)


def _node_ip(name: str) -> str:
    return f"172.18.0.{sum(name.encode()) % 250 + 2}"
