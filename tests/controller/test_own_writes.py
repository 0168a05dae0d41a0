"""Read-your-writes: our newer write wins only over the versions it replaced."""

from __future__ import annotations

from typing import Any

from wfe.controller.own_writes import OwnWrites


def obj(rv: str, phase: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "a", "resourceVersion": rv}, "status": {"phase": phase}}


def test_written_object_shadows_the_version_it_replaced() -> None:
    own = OwnWrites()
    own.wrote("ns/a", "1", obj("2", "Running"))
    newest = own.newest("ns/a", obj("1"))
    assert newest is not None
    assert newest["status"]["phase"] == "Running"


def test_chain_of_own_writes_shadows_every_replaced_version() -> None:
    own = OwnWrites()
    own.wrote("ns/a", "1", obj("2"))
    own.wrote("ns/a", "2", obj("3", "Running"))
    for stale in ("1", "2"):
        newest = own.newest("ns/a", obj(stale))
        assert newest is not None
        assert newest["metadata"]["resourceVersion"] == "3"


def test_cache_catching_up_or_a_foreign_change_wins_and_clears() -> None:
    own = OwnWrites()
    own.wrote("ns/a", "1", obj("2", "Running"))
    foreign = obj("7", "Skipped")
    assert own.newest("ns/a", foreign) is foreign
    assert len(own) == 0
    own.wrote("ns/a", "1", obj("2"))
    caught_up = obj("2")
    assert own.newest("ns/a", caught_up) is caught_up
    assert len(own) == 0


def test_deleted_object_is_forgotten() -> None:
    own = OwnWrites()
    own.wrote("ns/a", "1", obj("2"))
    assert own.newest("ns/a", None) is None
    assert len(own) == 0


def test_returned_object_is_a_copy() -> None:
    own = OwnWrites()
    written = obj("2", "Running")
    own.wrote("ns/a", "1", written)
    written["status"]["phase"] = "mutated"
    newest = own.newest("ns/a", obj("1"))
    assert newest is not None
    assert newest["status"]["phase"] == "Running"
