"""What the API server does to a written object, in its order: strict decoding, defaulting, validation."""

from __future__ import annotations

from simdeploy.k8s.defaults import apply_defaults
from simdeploy.k8s.validation import FieldError, decode_errors, rule_errors


def admit(obj: dict) -> list[FieldError]:
    """Default `obj` in place and return its problems (empty when the API server would store it).

    Decoding comes first, as on the real server: defaulting reads the shapes (containers as a list of
    mappings, ports as mappings), so a wrongly shaped object is refused before it is defaulted.
    """
    errors = decode_errors(obj)
    if errors:
        return errors
    apply_defaults(obj)
    return rule_errors(obj)
