"""labelSelector and fieldSelector query parameters, parsed once and matched against objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from simdeploy.apiserver.status import bad_request
from simdeploy.k8s.labels import parse_selector, selector_matches

# Fields the real apiserver supports for every kind, plus the pod fields kubectl users reach for. Like the real
# one (pkg/apis/core/v1/conversion.go: "field label not supported"), refuse the rest rather than ignore them:
# `rollout status` and `wait` select their object with metadata.name=, and an ignored selector answers for another.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS = {
    "Pod": ("spec.nodeName", "status.phase"),
    "Event": (
        "involvedObject.name",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.uid",
    ),
}


def _field_value(obj: dict, path: str) -> str:
    value: object = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


@dataclass
class Selectors:
    """The label and field selectors of one LIST or WATCH request."""

    labels: dict = field(default_factory=dict)  # a LabelSelector; {} selects everything
    fields: list[tuple[str, bool, str]] = field(default_factory=list)  # (path, equal, value)

    @classmethod
    def parse(cls, kind: str, label_text: str, field_text: str) -> Selectors:
        try:
            labels = parse_selector(label_text)
        except ValueError as error:
            raise bad_request(str(error)) from None
        fields = []
        for term in filter(None, (t.strip() for t in field_text.split(","))):
            if "!=" in term:
                path, value = term.split("!=", 1)
                equal = False
            elif "=" in term:
                path, value = term.replace("==", "=", 1).split("=", 1)
                equal = True
            else:
                raise bad_request(f"invalid selector: '{field_text}'; can't understand '{term}'")
            path = path.strip()
            if path not in _COMMON_FIELDS + _EXTRA_FIELDS.get(kind, ()):
                raise bad_request(f"field label not supported: {path}")
            fields.append((path, equal, value.strip()))
        return cls(labels, fields)

    def matches(self, obj: dict) -> bool:
        if not selector_matches(self.labels, obj["metadata"].get("labels")):
            return False
        return all((_field_value(obj, path) == value) == equal for path, equal, value in self.fields)
