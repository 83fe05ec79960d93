"""The promotion pipeline: every merge to dev, release-candidate tags to staging, approval after a soak to production;
one digest per change, moved and never rebuilt; one release per environment at a time."""

from __future__ import annotations

import random

import pytest

from simdeploy.delivery.promotion import Hop, Pipeline, Visit, digest_of, next_tag
from simdeploy.sim.distributions import Fixed

HOUR = 3600.0
DAY = 24 * HOUR


def pipeline(approval: float = HOUR, soak: float = 4 * HOUR, every: float = DAY) -> Pipeline:
    return Pipeline(
        [
            Hop("dev", "merge", Fixed(60.0)),
            Hop("staging", "tag", Fixed(120.0), every=every),
            Hop("production", "approval", Fixed(180.0), soak=soak, approval=Fixed(approval)),
        ],
        build=Fixed(600.0),
    )


def rollouts(live: float = 30.0, stop: dict | None = None):
    """visit(): every rollout takes `live` s; `stop` maps (change, hop) to how long until the environment is free."""

    def visit(index: int, hop: int, rng: random.Random) -> Visit:
        if stop and (index, hop) in stop:
            return Visit(live, stopped=True, busy_for=stop[(index, hop)])
        return Visit(live)

    return visit


def test_each_hop_follows_its_rule():
    (release,) = pipeline().run(1, rollouts(), random.Random(1))
    dev, staging, production = release.stages
    assert release.merged_at == 0 and release.built_at == 600
    assert (dev.promoted_at, dev.synced_at, dev.live_at) == (600, 660, 690)  # on merge: as soon as it is built
    assert staging.promoted_at == DAY  # the next release-candidate tag after it is live in dev
    assert (staging.synced_at, staging.live_at) == (DAY + 120, DAY + 150)
    soaked = staging.live_at + 4 * HOUR
    assert production.promoted_at == soaked + HOUR  # approved an hour after the soak
    assert production.live_at == soaked + HOUR + 180 + 30


def test_a_promotion_moves_the_digest_the_build_made():
    releases = pipeline().run(5, rollouts(), random.Random(1), seed="s")
    for release in releases:
        assert release.digest == digest_of("s", release.index)
        assert {stage.digest for stage in release.stages} == {release.digest}  # never rebuilt on the way
    assert len({release.digest for release in releases}) == 5
    assert digest_of("s", 3) == digest_of("s", 3) != digest_of("t", 3)
    assert digest_of("s", 0).startswith("sha256:") and len(digest_of("s", 0)) == len("sha256:") + 64


def test_one_release_per_environment_the_next_merges_when_dev_is_free():
    first, second = pipeline().run(2, rollouts(), random.Random(1))
    assert second.merged_at == first.stages[1].promoted_at  # dev took it once the first moved to staging
    # staging holds the first until it is promoted to production, then takes the second at the next tag
    assert second.stages[1].promoted_at == next_tag(first.stages[2].promoted_at, DAY)
    assert second.stages[2].promoted_at >= first.stages[2].free_at


def test_a_release_stopped_in_an_environment_goes_no_further_and_frees_it():
    first, second = pipeline().run(2, rollouts(stop={(0, 1): 900.0}), random.Random(1))
    assert first.stopped_in == "staging" and first.reached == "staging"
    assert [stage.environment for stage in first.stages] == ["dev", "staging"]
    assert first.stages[1].free_at == first.stages[1].synced_at + 900
    assert second.stages[1].promoted_at == next_tag(first.stages[1].free_at, DAY)


def test_a_failed_production_deploy_holds_production_until_it_recovered():
    first, second = pipeline(soak=0, every=HOUR).run(2, rollouts(stop={(0, 2): 5 * HOUR}), random.Random(1))
    assert first.stopped_in is None and first.reached == "production"  # it was deployed: a failed deployment
    assert first.stages[2].free_at == first.stages[2].synced_at + 5 * HOUR
    assert second.stages[2].promoted_at >= first.stages[2].free_at


@pytest.mark.parametrize("moment, tag", [(0.0, 0.0), (1.0, DAY), (DAY, DAY), (DAY + 1, 2 * DAY)])
def test_tags_are_cut_at_every_multiple_of_the_cadence(moment, tag):
    assert next_tag(moment, DAY) == tag


def test_an_automatic_promotion_waits_for_the_soak_only():
    hops = [Hop("dev", "merge", Fixed(0.0)), Hop("production", "auto", Fixed(0.0), soak=2 * HOUR)]
    (release,) = Pipeline(hops, Fixed(0.0)).run(1, rollouts(live=10.0), random.Random(1))
    assert release.stages[1].promoted_at == 10.0 + 2 * HOUR


def test_the_first_hop_and_only_it_takes_merges():
    with pytest.raises(ValueError, match="first hop, and only it"):
        Pipeline([Hop("staging", "tag", Fixed(0.0), every=DAY)], Fixed(0.0))
    with pytest.raises(ValueError, match="first hop, and only it"):
        Pipeline([Hop("dev", "merge", Fixed(0.0)), Hop("qa", "merge", Fixed(0.0))], Fixed(0.0))
