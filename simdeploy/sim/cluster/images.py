"""Image pulls on each node: the serialised pull queue, the image cache, and images no registry has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simdeploy.sim.cluster.container import Container

if TYPE_CHECKING:
    from simdeploy.sim.cluster.kubelet import PodRuntime

# pkg/kubelet/kubelet.go and kubelet config defaults: back-off 10 s doubling to 300 s (container restarts and
# image pulls alike).
BACKOFF_BASE = 10.0
BACKOFF_CAP = 300.0
# An image the registry does not have (no behaviour in the scenario): the pull fails after about a second and
# is retried with the kubelet's image back-off, 10 s doubling to 300 s (pkg/kubelet/images/image_manager.go,
# the backOff the kubelet builds with backOffPeriod and MaxContainerBackOff).
PULL_NOT_FOUND = 1.0


@dataclass
class NodeRuntime:
    """A node's kubelet: its image cache and its serialised image-pull queue."""

    name: str
    images: dict[str, float] = field(default_factory=dict)  # image -> time it is present
    pull_free_at: float = 0.0
    alive: bool = True


class ImagePulls:
    """The kubelet's image pulls (a part of Kubelet: it uses the kubelet's clock, rng, recorder and status)."""

    def _pull(self, runtime: PodRuntime, node: NodeRuntime, container: Container) -> float:
        """Queue the image pull on the node (serialised, as serializeImagePulls) and say when done."""
        present_at = node.images.get(container.image)
        now = self.clock.now
        if present_at is not None:
            if present_at <= now:
                self.recorder.object_event(
                    runtime.pod,
                    "Pulled",
                    f'Container image "{container.image}" already present on machine',
                )
            return present_at
        took = container.behaviour.pull.sample(self.rng)
        if took <= 0:  # the image was already on the node (pre-pulled, or kind-loaded)
            node.images[container.image] = now
            return self._pull(runtime, node, container)
        start = max(now, node.pull_free_at)
        done = start + took
        node.pull_free_at = done
        node.images[container.image] = done
        epoch = runtime.epoch
        self.clock.call_at(
            start,
            lambda: self._pod_event(runtime, epoch, "Pulling", f'Pulling image "{container.image}"'),
        )
        self.clock.call_at(
            done,
            lambda: self._pod_event(
                runtime,
                epoch,
                "Pulled",
                f'Successfully pulled image "{container.image}" in {took:.3g}s',
            ),
        )
        return done

    def _pull_missing(self, runtime: PodRuntime, container: Container, backoff: float) -> None:
        """Pull an image that does not exist: ErrImagePull, then ImagePullBackOff until the next try."""
        image, epoch = container.image, runtime.epoch

        def failed() -> None:
            if runtime.epoch != epoch:
                return
            container.waiting_reason = "ErrImagePull"
            self.recorder.object_event(
                runtime.pod,
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image '
                f'"{image}": not found',
                warning=True,
            )
            self._write_status(runtime)
            self.clock.call_later(0.0, backing_off)

        def backing_off() -> None:
            if runtime.epoch != epoch:
                return
            container.waiting_reason = "ImagePullBackOff"
            self.recorder.object_event(runtime.pod, "BackOff", f'Back-off pulling image "{image}"')
            self._write_status(runtime)
            self.clock.call_later(
                backoff, lambda: self._pull_missing(runtime, container, min(2 * backoff, BACKOFF_CAP))
            )

        self._pod_event(runtime, epoch, "Pulling", f'Pulling image "{image}"')
        self.clock.call_later(PULL_NOT_FOUND, failed)

    def _pod_event(self, runtime: PodRuntime, epoch: int, reason: str, message: str) -> None:
        if runtime.epoch == epoch:
            self.recorder.object_event(runtime.pod, reason, message)
