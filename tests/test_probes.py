"""Probe arithmetic (simdeploy/sim/probes.py) against the kubelet's probe worker (pkg/kubelet/prober/worker.go).

A worker probes once when the container starts and then every periodSeconds; a tick is skipped while
int(seconds since the container started) < initialDelaySeconds; the stored result flips only after
successThreshold consecutive successes or failureThreshold consecutive failures.
"""

from __future__ import annotations

import pytest

from simdeploy.sim.cluster import probes
from simdeploy.sim.cluster.probes import INF, Probe

START = 100.0  # the container started at this simulated time


def test_a_missing_probe_is_none_and_an_empty_one_gets_the_api_defaults():
    assert Probe.from_spec(None) is None
    assert Probe.from_spec({}) == Probe(
        period=10.0, initial_delay=0.0, timeout=1.0, success_threshold=1, failure_threshold=3
    )


def test_from_spec_reads_every_timing_field_including_the_probe_level_grace_period():
    spec = {
        "periodSeconds": 5,
        "initialDelaySeconds": 12,
        "timeoutSeconds": 2,
        "successThreshold": 2,
        "failureThreshold": 4,
        "terminationGracePeriodSeconds": 7,
    }
    assert Probe.from_spec(spec) == Probe(5.0, 12.0, 2.0, 2, 4, termination_grace_period=7.0)


def test_the_first_tick_is_at_container_start_when_there_is_no_initial_delay():
    assert probes.first_tick(START, Probe(period=5)) == 0
    assert probes.tick_at_or_after(START, Probe(period=5), START) == START


@pytest.mark.parametrize(
    "initial_delay, period, first_index",
    [
        pytest.param(12, 5, 3, id="ticks at 0, 5 and 10 s are skipped, 15 s counts"),
        pytest.param(10, 5, 2, id="a tick exactly at the delay counts"),
        pytest.param(1, 10, 1, id="a delay shorter than the period skips only the first tick"),
    ],
)
def test_initial_delay_skips_the_ticks_before_it(initial_delay, period, first_index):
    probe = Probe(period=period, initial_delay=initial_delay)
    assert probes.first_tick(START, probe) == first_index


def test_initial_delay_compares_whole_seconds_since_start_so_a_tick_inside_the_last_second_is_skipped():
    # worker.go: int32(time.Since(startedAt).Seconds()) < InitialDelaySeconds skips the tick.
    # The tick 2.5 s after start truncates to 2 s, which is below a 2.5 s delay; the next tick (3 s) counts.
    probe = Probe(period=0.5, initial_delay=2.5)
    assert probes.first_tick(START, probe) == 6
    assert probes.tick_at_or_after(START, probe, START) == START + 3.0


def test_tick_at_or_after_rounds_up_to_the_next_tick_and_keeps_a_tick_on_the_moment():
    probe = Probe(period=5)
    assert probes.tick_at_or_after(START, probe, START + 8) == START + 10
    assert probes.tick_at_or_after(START, probe, START + 10) == START + 10
    assert probes.tick_at_or_after(START, probe, START + 10.001) == START + 15


def test_tick_at_or_after_never_returns_a_tick_skipped_by_the_initial_delay():
    probe = Probe(period=5, initial_delay=12)
    assert probes.tick_at_or_after(START, probe, START + 1) == START + 15


def test_tick_at_or_after_an_endless_moment_is_never():
    assert probes.tick_at_or_after(START, Probe(), INF) == INF


def test_one_success_is_enough_by_default_at_the_first_tick_at_or_after_the_endpoint_passes():
    # The app answers from 8 s after start; period 5: the tick at 10 s sees it.
    assert probes.success_time(START, Probe(period=5), START + 8, INF) == START + 10


def test_success_threshold_two_needs_one_more_period():
    probe = Probe(period=5, success_threshold=2)
    assert probes.success_time(START, probe, START + 8, INF) == START + 15


def test_success_needs_the_consecutive_ticks_inside_the_passing_window():
    probe = Probe(period=5, success_threshold=2)
    # Passing from 8 s until 16 s: ticks at 10 and 15 s both pass.
    assert probes.success_time(START, probe, START + 8, START + 16) == START + 15
    # Passing until exactly 15 s: the window is half-open, so the tick at 15 s fails: never.
    assert probes.success_time(START, probe, START + 8, START + 15) is None
    # Passing from 11 until 14 s: not a single tick.
    assert probes.success_time(START, Probe(period=5), START + 11, START + 14) is None


def test_failure_threshold_counts_consecutive_failing_ticks():
    probe = Probe(period=10, failure_threshold=3)
    # Failing from 30 s: ticks at 30, 40 and 50 s fail; the third one flips the result.
    assert probes.failure_time(START, probe, START + 30) == START + 50
    # Failing from 31 s: the first failing tick is at 40 s.
    assert probes.failure_time(START, probe, START + 31) == START + 60


def test_failures_that_stop_before_the_threshold_is_reached_flip_nothing():
    probe = Probe(period=10, failure_threshold=3)
    # Failing during [0, 25): the ticks at 0, 10 and 20 s fail; the third flips the result.
    assert probes.failure_time(START, probe, START, START + 25) == START + 20
    # Failing during [0, 20): only two failing ticks before the endpoint answers again: never.
    assert probes.failure_time(START, probe, START, START + 20) is None


def test_failure_time_respects_the_initial_delay():
    probe = Probe(period=10, initial_delay=15, failure_threshold=1)
    assert probes.failure_time(START, probe, START) == START + 20
