"""The cycle-collector policy of `parley serve` (parley.server.collector): small young
collections, their survivors frozen right after, and now and then everything collected."""

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from parley.server.collector import YOUNG_OBJECTS, CollectorPolicy


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """The test process's own collector settings come back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.collect()


class Node:
    def __init__(self) -> None:
        self.other: Any = None


async def test_survivors_of_a_young_collection_are_frozen_and_freed_by_refcount(
    restored_collector: None,
) -> None:
    policy = CollectorPolicy(full_every=3600)
    policy.start()
    try:
        assert gc.get_threshold()[0] == YOUNG_OBJECTS
        frozen_at_start = gc.get_freeze_count()
        assert frozen_at_start > 0, "start-up objects are frozen"
        kept = [Node() for _ in range(YOUNG_OBJECTS * 3)]  # outlives young collections
        await asyncio.sleep(0)  # the freeze runs from the loop, right after the collection
        await asyncio.sleep(0)
        assert gc.get_freeze_count() >= frozen_at_start + YOUNG_OBJECTS
        # Frozen objects still go when their last reference does.
        frozen = gc.get_freeze_count()
        del kept
        assert gc.get_freeze_count() <= frozen - YOUNG_OBJECTS
    finally:
        policy.stop()


async def test_a_cycle_missed_while_frozen_is_collected_by_the_periodic_full_pass(
    restored_collector: None,
) -> None:
    policy = CollectorPolicy(full_every=0.05)
    policy.start()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.freeze()  # as a young collection's survivors would be
        collected: list[int] = []

        def count(phase: str, info: dict[str, Any]) -> None:
            if phase == "stop" and info["generation"] == 2:
                collected.append(info["collected"])

        gc.callbacks.append(count)
        try:
            del a, b  # now a cycle of garbage, frozen: no young collection would find it
            for _ in range(100):
                if policy.full_collections:
                    break
                await asyncio.sleep(0.02)
        finally:
            gc.callbacks.remove(count)
        assert policy.full_collections >= 1
        assert any(n >= 2 for n in collected), collected
    finally:
        policy.stop()


async def test_stop_removes_the_callback_and_the_sweeper(restored_collector: None) -> None:
    policy = CollectorPolicy(full_every=3600)
    policy.start()
    policy.stop()
    assert policy._after_collection not in gc.callbacks
    await asyncio.sleep(0)
    assert policy._sweeper is not None and policy._sweeper.cancelled()
