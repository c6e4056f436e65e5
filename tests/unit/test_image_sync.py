"""Which images go to which Docker host (issue 19): by tag and recipe hash, nothing else."""

from __future__ import annotations

from workers.image_sync import Copy, SourceImage, plan

PG = SourceImage("dbaas/postgresql:15", "aaa")
LB = SourceImage("dbaas/haproxy:2.6", "bbb")


def test_missing_and_stale_images_are_copied() -> None:
    held: dict[str, dict[str, str | None]] = {
        "h2": {PG.tag: "aaa", LB.tag: "old"},  # LB rebuilt since
        "h1": {PG.tag: None, LB.tag: None},  # a fresh host
    }
    assert plan([PG, LB], held) == [
        Copy(LB.tag, "h1"),
        Copy(PG.tag, "h1"),
        Copy(LB.tag, "h2"),
    ]


def test_hosts_holding_the_same_build_get_nothing() -> None:
    held: dict[str, dict[str, str | None]] = {"h1": {PG.tag: "aaa"}, "h2": {PG.tag: "aaa"}}
    assert plan([PG], held) == []


def test_an_unlabelled_image_under_our_tag_is_replaced() -> None:
    assert plan([PG], {"h1": {PG.tag: ""}}) == [Copy(PG.tag, "h1")]
    assert plan([], {"h1": {}}) == []
