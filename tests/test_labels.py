"""Label selectors behave like apimachinery's metav1.LabelSelector and labels.Parse.

Tables ported from k8s.io/apimachinery pkg/labels/selector_test.go (TestSelectorParse,
TestSelectorMatches, TestSetMatches, TestEverything, TestRequirementConstructor, TestToString,
TestRequirementSelectorMatching, TestSetSelectorParser) and from
pkg/controller/disruption/disruption_test.go (TestInvalidSelectors). Rows that need the ">"
and "<" operators, which a LabelSelector cannot hold, are ported as "rejected" instead.
"""

from __future__ import annotations

import pytest

from simdeploy.k8s.labels import format_selector, labels_match, parse_selector, selector_matches

# --- TestSelectorParse: good strings round-trip through kubectl's text form ---------------

# (input, format_selector(parse_selector(input))). Upstream compares against the input with
# spaces removed; "!=" comes back as "notin" because a LabelSelector has no "!=" operator, and
# the empty selector prints "<none>" as kubectl does.
ROUND_TRIPS = [
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("", "<none>"),
    ("x!=a,y=b", "x notin (a),y=b"),
    ("x=", "x="),
    ("x= ", "x="),
    ("x=,z= ", "x=,z="),
    ("x= ,z= ", "x=,z="),
    ("!x", "!x"),
]


@pytest.mark.parametrize(("text", "formatted"), ROUND_TRIPS)
def test_parsed_selector_formats_back_to_kubectl_text(text, formatted):
    assert format_selector(parse_selector(text)) == formatted


BAD_STRINGS = ["x=a||y=b", "x==a==b", "!x=a", "x<a"]


@pytest.mark.parametrize("text", BAD_STRINGS)
def test_malformed_selector_strings_are_rejected(text):
    with pytest.raises(ValueError, match="invalid label selector"):
        parse_selector(text)


@pytest.mark.parametrize("text", ["x>1", "x>1,z<5", "x<7"])
def test_gt_and_lt_parse_upstream_but_cannot_become_a_label_selector(text):
    with pytest.raises(ValueError, match="isn't supported in label selectors"):
        parse_selector(text)


def test_parse_is_deterministic_whatever_the_order_of_terms():
    assert format_selector(parse_selector("x=a,a=x")) == format_selector(parse_selector("a=x,x=a"))


# --- TestSelectorMatches / TestEverything ------------------------------------------------

MATCHES = [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),  # "in" and "notin" are plain words outside operators
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("foo=bar", {"foo": "bar", "baz": "blah"}, True),
    ("baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=blah", {"foo": "bar", "baz": "blah"}, False),
    ("baz=bar", {"foo": "bar", "baz": "blah"}, False),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_parsed_selector_matches_labels(text, labels, expected):
    assert selector_matches(parse_selector(text), labels) is expected


def test_empty_selector_matches_everything_and_none_matches_nothing():
    assert selector_matches({}, {"x": "y"}) is True
    assert selector_matches({}, None) is True
    assert selector_matches(None, {"x": "y"}) is False
    assert selector_matches(None, {}) is False


# --- TestSetMatches: Service-style flat selectors ----------------------------------------

SET_MATCHES = [
    ({}, True),
    ({"foo": "bar"}, True),
    ({"baz": "blah"}, True),
    ({"foo": "bar", "baz": "blah"}, True),
    ({"foo": "blah"}, False),
    ({"foo": "bar", "foobar": "bar"}, False),
]


@pytest.mark.parametrize(("flat_selector", "expected"), SET_MATCHES)
def test_flat_selector_requires_every_pair(flat_selector, expected):
    assert labels_match(flat_selector, {"foo": "bar", "baz": "blah"}) is expected


def test_flat_selector_with_empty_value_needs_the_label_present():
    assert labels_match({"x": ""}, {"x": ""}) is True
    assert labels_match({"x": ""}, {}) is False


# --- TestRequirementConstructor / TestInvalidSelectors: invalid selectors raise ---------

INVALID_SELECTORS = [
    ("In without values", {"matchExpressions": [{"key": "x1", "operator": "In"}]}),
    (
        "NotIn, empty values",
        {"matchExpressions": [{"key": "x2", "operator": "NotIn", "values": []}]},
    ),
    (
        "Exists with a value",
        {"matchExpressions": [{"key": "x8", "operator": "Exists", "values": ["foo"]}]},
    ),
    ("key of 254 characters", {"matchExpressions": [{"key": "a" * 254, "operator": "Exists"}]}),
    ("value over 63 characters", {"matchLabels": {"x16": "a" * 254}}),
    ("value with a space", {"matchLabels": {"x17": "a b"}}),
    ("unsupported operator", {"matchExpressions": [{"key": "x18", "operator": "unsupportedOp"}]}),
    ("illegal value key", {"matchLabels": {"k8s.io/too/many/slashes": "value"}}),
    (
        "illegal operator",
        {"matchExpressions": [{"key": "foo", "operator": "illegal", "values": ["bar"]}]},
    ),
]


@pytest.mark.parametrize(("case", "selector"), INVALID_SELECTORS, ids=[r[0] for r in INVALID_SELECTORS])
def test_invalid_selector_raises_and_formats_as_error(case, selector):
    with pytest.raises(ValueError):
        selector_matches(selector, {"x": "y"})
    assert format_selector(selector) == "<error>"


VALID_REQUIREMENTS = [
    {"key": "x3", "operator": "In", "values": ["foo"]},
    {"key": "x4", "operator": "NotIn", "values": ["foo"]},
    {"key": "x6", "operator": "Exists"},
    {"key": "x7", "operator": "DoesNotExist"},
    {"key": "x9", "operator": "In", "values": ["bar"]},
]


@pytest.mark.parametrize("expression", VALID_REQUIREMENTS)
def test_valid_requirements_are_accepted(expression):
    selector_matches({"matchExpressions": [expression]}, {})


# --- TestToString: kubectl text form -------------------------------------------------------


def expr(key, operator, *values):
    out = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


TO_STRING = [
    (
        [expr("x", "In", "abc", "def"), expr("y", "NotIn", "jkl"), expr("z", "Exists")],
        "x in (abc,def),y notin (jkl),z",
    ),
    (
        [expr("x", "NotIn", "abc"), expr("y", "In", "jkl", "mno"), expr("z", "NotIn", "")],
        "x notin (abc),y in (jkl,mno),z notin ()",
    ),
    ([expr("x", "NotIn", "def", "abc"), expr("z", "DoesNotExist")], "x notin (abc,def),!z"),
]


@pytest.mark.parametrize(("expressions", "text"), TO_STRING)
def test_format_selector_prints_kubectl_text(expressions, text):
    assert format_selector({"matchExpressions": expressions}) == text


def test_format_selector_sorts_terms_by_key_across_match_labels_and_expressions():
    selector = {
        "matchLabels": {"app": "payments-api"},
        "matchExpressions": [expr("tier", "In", "web")],
    }
    assert format_selector(selector) == "app=payments-api,tier in (web)"
    assert format_selector({"matchExpressions": [expr("b", "Exists")], "matchLabels": {"a": "1"}}) == ("a=1,b")


def test_format_selector_of_empty_and_missing_selectors():
    assert format_selector({}) == "<none>"
    assert format_selector(None) == "<none>"


# --- TestRequirementSelectorMatching -----------------------------------------------------

REQUIREMENT_MATCHING = [
    ({"x": "foo", "y": "baz"}, [expr("x", "In", "foo"), expr("y", "NotIn", "alpha")], True),
    ({"x": "foo", "y": "baz"}, [expr("x", "In", "foo"), expr("y", "In", "alpha")], False),
    ({"y": ""}, [expr("x", "NotIn", ""), expr("y", "Exists")], True),
    ({"y": ""}, [expr("x", "DoesNotExist"), expr("y", "Exists")], True),
    ({"y": ""}, [expr("x", "NotIn", ""), expr("y", "DoesNotExist")], False),
    ({"y": "baz"}, [expr("x", "In", "")], False),
]


@pytest.mark.parametrize(("labels", "expressions", "expected"), REQUIREMENT_MATCHING)
def test_match_expressions_select_labels(labels, expressions, expected):
    assert selector_matches({"matchExpressions": expressions}, labels) is expected


# --- TestSetSelectorParser: what kubectl strings parse into --------------------------------

PARSES = [
    ("", {}),
    ("\rx", {"matchExpressions": [expr("x", "Exists")]}),
    (
        "this-is-a-dns.domain.com/key-with-dash",
        {"matchExpressions": [expr("this-is-a-dns.domain.com/key-with-dash", "Exists")]},
    ),
    (
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        {"matchExpressions": [expr("this-is-another-dns.domain.com/key-with-dash", "In", "so", "what")]},
    ),
    (
        "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
        {"matchExpressions": [expr("0.1.2.domain/99", "NotIn", "10.10.100.1", "tick.tack.clock")]},
    ),
    ("foo  in\t (abc)", {"matchExpressions": [expr("foo", "In", "abc")]}),
    ("x notin\n (abc)", {"matchExpressions": [expr("x", "NotIn", "abc")]}),
    ("x  notin\t\t(abc,def)", {"matchExpressions": [expr("x", "NotIn", "abc", "def")]}),
    ("x in (abc,def)", {"matchExpressions": [expr("x", "In", "abc", "def")]}),
    ("x in (abc,)", {"matchExpressions": [expr("x", "In", "", "abc")]}),
    ("x in ()", {"matchExpressions": [expr("x", "In", "")]}),
    (
        "x notin (abc,,def),bar,z in (),w",
        {
            "matchExpressions": [
                expr("x", "NotIn", "", "abc", "def"),
                expr("bar", "Exists"),
                expr("z", "In", ""),
                expr("w", "Exists"),
            ]
        },
    ),
    ("x,y in (a)", {"matchExpressions": [expr("x", "Exists"), expr("y", "In", "a")]}),
    ("x=a", {"matchLabels": {"x": "a"}}),
    ("x=a,y!=b", {"matchLabels": {"x": "a"}, "matchExpressions": [expr("y", "NotIn", "b")]}),
    (
        "x=a,y!=b,z in (h,i,j)",
        {
            "matchLabels": {"x": "a"},
            "matchExpressions": [expr("y", "NotIn", "b"), expr("z", "In", "h", "i", "j")],
        },
    ),
    ("x notin ( )", {"matchExpressions": [expr("x", "NotIn", "")]}),
    ("x notin (, a)", {"matchExpressions": [expr("x", "NotIn", "", "a")]}),
    ("a ", {"matchExpressions": [expr("a", "Exists")]}),
    (
        "a in (x,y,notin, z,in)",
        {"matchExpressions": [expr("a", "In", "in", "notin", "x", "y", "z")]},
    ),
]


@pytest.mark.parametrize(("text", "selector"), PARSES)
def test_kubectl_selector_strings_parse_into_label_selectors(text, selector):
    assert parse_selector(text) == selector


UNPARSEABLE = [
    "x=a||y=b",
    "x,,y",
    ",x,y",
    "x nott in (y)",
    "a in (xyz),",
    "a in (xyz)b notin ()",
    "a in (xyz abc)",  # no comma
    "a notin(",  # badly formed
    "a (",
    "(",
]


@pytest.mark.parametrize("text", UNPARSEABLE)
def test_unparseable_selector_strings_raise(text):
    with pytest.raises(ValueError, match="invalid label selector"):
        parse_selector(text)


def test_brief_example_parses_and_matches():
    selector = parse_selector("app=x,env!=prod,tier in (a,b),!canary,key")
    assert selector == {
        "matchLabels": {"app": "x"},
        "matchExpressions": [
            expr("env", "NotIn", "prod"),
            expr("tier", "In", "a", "b"),
            expr("canary", "DoesNotExist"),
            expr("key", "Exists"),
        ],
    }
    assert selector_matches(selector, {"app": "x", "tier": "b", "key": ""}) is True
    assert selector_matches(selector, {"app": "x", "tier": "b", "key": "", "env": "prod"}) is False
    assert selector_matches(selector, {"app": "x", "tier": "b", "key": "", "canary": "y"}) is False


def test_repeated_equality_on_one_key_keeps_both_constraints():
    selector = parse_selector("x=a,x=b")
    assert selector == {"matchLabels": {"x": "a"}, "matchExpressions": [expr("x", "In", "b")]}
    assert selector_matches(selector, {"x": "a"}) is False
    assert selector_matches(selector, {"x": "b"}) is False
