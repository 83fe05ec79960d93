"""IntOrString scaling, ported from upstream apimachinery intstr_test.go."""

from __future__ import annotations

import pytest

from simdeploy.k8s.intstr import get_scaled_value_from_int_or_percent

# TestGetIntFromIntOrPercent (GetScaledValueFromIntOrPercent): value, total, round_up, expected.
# expected None means the call must fail.
SCALED_VALUE_ROWS = [
    (123, 0, False, 123),
    ("90%", 100, True, 90),
    ("90%", 95, True, 86),
    ("90%", 95, False, 85),
    ("%", 0, False, None),
    ("90#", 0, False, None),
    ("#%", 0, False, None),
    ("90", 0, False, None),
]


@pytest.mark.parametrize(("value", "total", "round_up", "expected"), SCALED_VALUE_ROWS)
def test_scaled_value_from_int_or_percent(value, total, round_up, expected):
    if expected is None:
        with pytest.raises(ValueError):
            get_scaled_value_from_int_or_percent(value, total, round_up)
    else:
        assert get_scaled_value_from_int_or_percent(value, total, round_up) == expected


def test_none_is_an_error():
    # TestGetValueFromIntOrPercentNil
    with pytest.raises(ValueError, match="nil value"):
        get_scaled_value_from_int_or_percent(None, 0, False)


# TestGetIntFromIntOrString (getIntOrPercentValueSafely): value, parsed number, is a percent.
# Observed through scaling against a total of 50: a percent halves, a plain int does not.
INT_OR_PERCENT_ROWS = [
    (200, 200, False),
    ("200", None, False),
    ("30%0", None, False),
    ("40%", 40, True),
    ("%", None, False),
    ("a%", None, False),
    ("a", None, False),
    ("40#", None, False),
    ("40%%", None, False),
]


@pytest.mark.parametrize(("value", "number", "is_percent"), INT_OR_PERCENT_ROWS)
def test_int_or_percent_parsing(value, number, is_percent):
    if number is None:
        with pytest.raises(ValueError):
            get_scaled_value_from_int_or_percent(value, 50, False)
        return
    expected = number // 2 if is_percent else number
    assert get_scaled_value_from_int_or_percent(value, 50, False) == expected


def test_percent_rounds_in_float_arithmetic():
    assert get_scaled_value_from_int_or_percent("25%", 1, True) == 1
    assert get_scaled_value_from_int_or_percent("25%", 1, False) == 0
    assert get_scaled_value_from_int_or_percent("25%", 10, True) == 3
    assert get_scaled_value_from_int_or_percent("25%", 10, False) == 2


@pytest.mark.parametrize("value", [" 5%", "5 %", "1_0%", "5.5%", True, 2.5])
def test_values_go_would_reject_are_rejected(value):
    with pytest.raises(ValueError):
        get_scaled_value_from_int_or_percent(value, 100, True)
