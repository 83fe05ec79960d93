"""The `environments:` section: dev -> staging -> production as Kustomize overlays, how a release is promoted into
each, and the admission gates each enforces; rendered with `kubectl kustomize` when the scenario loads.

Every environment's objects are applied into the one simulated cluster, in the namespace its overlay sets (the
chapter's separate clusters become namespaces: they share the nodes, nothing else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, model_validator

from simdeploy.k8s.image_policy import RequireDigest, RequireSignature
from simdeploy.scenario.errors import Problem
from simdeploy.scenario.fields import Duration, Strict
from simdeploy.scenario.kustomize import KustomizeError, render
from simdeploy.scenario.schema import DistributionSpec

if TYPE_CHECKING:
    from simdeploy.scenario.loader import Scenario

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _uniform(low: str, high: str) -> DistributionSpec:
    return DistributionSpec.model_validate({"uniform": {"min": low, "max": high}})


# From an approval request to the approval: no published figure; a guess of an hour typically, a working day at
# worst (a change waiting for the next person with the rights to approve it).
DEFAULT_APPROVAL = DistributionSpec.model_validate({"lognormal": {"median": "1h", "p95": "8h"}})


class PromotionSpec(Strict):
    """How a release enters the environment: on every merge, on the next release-candidate tag, automatically
    once it has soaked in the previous environment, or by approval after that soak. A promotion moves the digest
    the build made; nothing is rebuilt."""

    trigger: Literal["merge", "tag", "auto", "approval"]
    every: Duration | None = Field(default=None, gt=0)  # tag: an RC tag is cut this often (from time 0)
    soak: Duration = Field(default=0.0, ge=0)  # time the release must have spent healthy in the previous environment
    approval: DistributionSpec | None = None  # approval: request (soak done) -> approved; DEFAULT_APPROVAL if left out
    # The GitOps controller's delay from the promotion commit to the sync: Argo CD 3.x polls every 120 s plus up
    # to 60 s of jitter, and a sync takes 3-8 s (argo-cd PR #22342; timing-defaults §4).
    sync: DistributionSpec = Field(default_factory=lambda: _uniform("2m3s", "3m8s"))

    @model_validator(mode="after")
    def _complete(self) -> PromotionSpec:
        if self.trigger == "tag" and self.every is None:
            raise ValueError("a tag promotion needs `every` (how often a release-candidate tag is cut)")
        if self.trigger != "tag" and self.every is not None:
            raise ValueError("`every` is for trigger: tag")
        if self.trigger != "approval" and self.approval is not None:
            raise ValueError("`approval` is for trigger: approval")
        if self.trigger == "merge" and self.soak:
            raise ValueError("a merge promotion has nothing to soak in: it is the first environment")
        return self


class SignatureSpec(Strict):
    """Images must be signed by `key` (a cosign key, the policy's authority); `signed` lists the images it signed."""

    key: str = Field(min_length=1, max_length=63)
    signed: list[str] = Field(default_factory=list)


class AdmissionSpec(Strict):
    """The gates the environment's API server enforces on every create and update in its namespace."""

    require_digest: bool = Field(default=False, alias="requireDigest")
    signatures: SignatureSpec | None = None


class EnvironmentSpec(Strict):
    name: str = Field(min_length=1, max_length=63)
    overlay: str = Field(min_length=1)  # a Kustomize directory, relative to the scenario
    promotion: PromotionSpec
    admission: AdmissionSpec = Field(default_factory=AdmissionSpec)

    @model_validator(mode="after")
    def _dns_name(self) -> EnvironmentSpec:
        if not _DNS1123_LABEL.fullmatch(self.name):
            raise ValueError(f"name {self.name!r}: lowercase letters, digits and '-' (an RFC 1123 label)")
        return self


@dataclass
class Environment:
    """An environment with its overlay rendered: its namespace, objects and admission gates."""

    spec: EnvironmentSpec
    overlay: Path
    namespace: str
    objects: list[dict] = field(default_factory=list)
    policies: list = field(default_factory=list)  # callables obj -> Denial | None, in admission order

    @property
    def name(self) -> str:
        return self.spec.name


def policies_of(spec: EnvironmentSpec, namespace: str) -> list:
    """The environment's gates: the digest pin (a ValidatingAdmissionPolicy), then signatures (a webhook)."""
    gates: list = []
    if spec.admission.require_digest:
        gates.append(RequireDigest(namespace, binding=f"require-image-digest-{spec.name}"))
    if spec.admission.signatures is not None:
        signatures = spec.admission.signatures
        gates.append(RequireSignature(namespace, signatures.key, frozenset(signatures.signed)))
    return gates


def read_environments(scenario: Scenario, problems: list[Problem]) -> list[Environment]:
    """Validate the section, render each overlay and check what it renders; the objects join the manifests."""
    from simdeploy.scenario.loader import _problems, admitted

    environments: list[Environment] = []
    for index, data in enumerate(scenario.spec.environments):
        where = f"environments[{index}]"
        try:
            spec = EnvironmentSpec.model_validate(data)
        except ValidationError as error:
            problems += _problems(error.errors(), ("environments", index))
            continue
        overlay = scenario.base_dir / spec.overlay
        try:
            rendered = render(overlay)
        except KustomizeError as error:
            problems.append(Problem(f"{where}.overlay", f"{spec.overlay}: {error}"))
            continue
        objects = admitted(rendered, f"{where}.overlay ({spec.overlay})", problems)
        namespace = _namespace(objects, f"{where}.overlay", spec.overlay, problems)
        if namespace is None:
            continue
        environment = Environment(spec, overlay, namespace, objects, policies_of(spec, namespace))
        _check_gates(environment, f"{where}.overlay ({spec.overlay})", problems)
        environments.append(environment)
    if not problems:
        _check_pipeline(environments, problems)
        gates = [policy for environment in environments for policy in environment.policies]
        for obj in scenario.manifests:  # the `manifests:` section's objects are admitted through the same gates
            denial = next((d for policy in gates if (d := policy(obj)) is not None), None)
            if denial is not None:
                problems.append(Problem(f"manifests {obj['kind']}/{obj['metadata']['name']}", denial.message))
    return environments


def _namespace(objects: list[dict], where: str, overlay: str, problems: list[Problem]) -> str | None:
    namespaces = {(o.get("metadata") or {}).get("namespace", "default") for o in objects if o["kind"] != "Namespace"}
    if len(namespaces) != 1:
        found = ", ".join(sorted(namespaces)) or "no namespaced object"
        problems.append(Problem(where, f"{overlay}: an environment's objects share one namespace (found {found})"))
        return None
    return namespaces.pop()


def _check_gates(environment: Environment, where: str, problems: list[Problem]) -> None:
    """The environment's own objects must pass its gates, as they would have to be admitted to exist."""
    for obj in environment.objects:
        for policy in environment.policies:
            denial = policy(obj)
            if denial is not None:
                problems.append(Problem(f"{where} {obj['kind']}/{obj['metadata']['name']}", denial.message))
                break


def _check_pipeline(environments: list[Environment], problems: list[Problem]) -> None:
    for index, environment in enumerate(environments):
        where = f"environments[{index}]"
        trigger = environment.spec.promotion.trigger
        if index == 0 and trigger != "merge":
            problems.append(Problem(f"{where}.promotion.trigger", "the first environment is promoted on merge"))
        if index > 0 and trigger == "merge":
            problems.append(Problem(f"{where}.promotion.trigger", "only the first environment takes every merge"))
        earlier = environments[:index]
        if any(e.name == environment.name for e in earlier):
            problems.append(Problem(f"{where}.name", f"{environment.name!r} is given twice"))
        if any(e.namespace == environment.namespace for e in earlier):
            problems.append(
                Problem(f"{where}.overlay", f"namespace {environment.namespace!r} is another environment's")
            )
