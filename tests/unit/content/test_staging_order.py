"""The order the write phase runs its tasks in: file-creating tasks spread among the others."""

from __future__ import annotations

from itertools import pairwise

from parovoz.content.staging import Task, spread_creates


def _task(name: str, *files: int) -> Task:
    return Task(name, 1, None, [(index, 0) for index in files])


def test_creating_tasks_are_spread_evenly_and_each_group_keeps_its_order() -> None:
    # file 0 is a pack of 4 chunks, files 1..8 small files of one chunk each, in path order
    pack = [_task(f"p{k}", 0) for k in range(4)]
    small = [_task(f"s{k}", k) for k in range(1, 9)]
    ordered = [t.id for t in spread_creates([*pack, *small])]
    assert sorted(ordered) == sorted(t.id for t in [*pack, *small])  # nothing lost or doubled
    creating = [i for i in ordered if i == "p0" or i.startswith("s")]
    assert creating == ["p0", *(f"s{k}" for k in range(1, 9))]  # files still created in path order
    assert [i for i in ordered if i in ("p1", "p2", "p3")] == ["p1", "p2", "p3"]
    positions = [ordered.index(f"p{k}") for k in (1, 2, 3)]
    # spread, not bunched: one every ~len/3 places (in path order they would be places 1, 2, 3)
    assert [b - a for a, b in pairwise(positions)] == [4, 4], ordered


def test_a_task_writing_a_new_file_and_an_old_one_counts_as_creating() -> None:
    tasks = [_task("a", 0), _task("b", 0), _task("c", 0, 1), _task("d", 1)]
    # creating: a, c; continuing: b, d (as "continuing", c would come after b and a)
    assert [t.id for t in spread_creates(tasks)] == ["a", "b", "c", "d"]
    # with only one kind, the order is kept as it is
    only_new = [_task("x", 0), _task("y", 1)]
    assert [t.id for t in spread_creates(only_new)] == ["x", "y"]
