"""The update planner over hand-made manifests: keep, move, write, patch, delete, and the costs."""

from __future__ import annotations

import hashlib

from parovoz.content.plan import Plan, Strategy, plan_update
from parovoz.protos.platform.content.v1.manifest_pb2 import ChunkRef, FileEntry, Manifest

SIZE = 1000  # every chunk in these manifests is 1000 plain bytes stored as 500


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def entry(path: str, chunk_names: list[str], mode: int = 0o644) -> FileEntry:
    refs = [
        ChunkRef(id=cid(n), offset=i * SIZE, size=SIZE, stored_size=SIZE // 2)
        for i, n in enumerate(chunk_names)
    ]
    whole = hashlib.sha256("".join(chunk_names).encode()).hexdigest()
    return FileEntry(path=path, size=SIZE * len(chunk_names), mode=mode, sha256=whole, chunks=refs)


def manifest(*files: FileEntry) -> Manifest:
    return Manifest(build_id="b", files=sorted(files, key=lambda f: f.path.encode()))


def strategies(plan: Plan) -> dict[str, Strategy]:
    return {f.path: f.strategy for f in plan.files}


def test_a_fresh_install_writes_everything_and_fetches_each_chunk_once() -> None:
    new = manifest(entry("a", ["x", "y"]), entry("b", ["y", "z"]))
    plan = plan_update(new, None, [])
    assert strategies(plan) == {"a": Strategy.WRITE, "b": Strategy.WRITE}
    assert plan.fetch_bytes == 3 * SIZE // 2  # x, y, z once each, though y is used twice
    assert plan.write_bytes == 4 * SIZE
    assert plan.deletes == []


def test_identical_files_are_kept_and_cost_nothing() -> None:
    old = manifest(entry("a", ["x"]), entry("b", ["y"], mode=0o644))
    new = manifest(entry("a", ["x"]), entry("b", ["y"], mode=0o755))
    plan = plan_update(new, old, ["a", "b"])
    assert strategies(plan) == {"a": Strategy.KEEP, "b": Strategy.KEEP}
    assert (plan.fetch_bytes, plan.write_bytes) == (0, 0)
    assert [f.mode_changed for f in plan.files] == [False, True]


def test_a_kept_file_that_is_gone_from_disk_is_written_again() -> None:
    old = manifest(entry("a", ["x"]))
    plan = plan_update(manifest(entry("a", ["x"])), old, present=[])
    assert strategies(plan) == {"a": Strategy.WRITE}
    assert plan.fetch_bytes == SIZE // 2  # not on disk, so not a local source either


def test_a_rename_is_a_move_with_nothing_fetched_or_written() -> None:
    old = manifest(entry("old/name.pak", ["p", "q"]))
    new = manifest(entry("new/name.pak", ["p", "q"]))
    plan = plan_update(new, old, ["old/name.pak"])
    assert strategies(plan) == {"new/name.pak": Strategy.MOVE}
    assert plan.files[0].move_from == "old/name.pak"
    assert (plan.fetch_bytes, plan.write_bytes) == (0, 0)
    assert plan.deletes == []  # the moved file is not deleted after


def test_an_insert_shifts_chunks_so_the_file_is_written_new_from_local_chunks() -> None:
    old = manifest(entry("pak", ["a", "b", "c", "d"]))
    new = manifest(entry("pak", ["a", "NEW", "b", "c", "d"]))
    plan = plan_update(new, old, ["pak"])
    pak = plan.files[0]
    assert pak.strategy is Strategy.WRITE
    assert plan.fetch == {cid("NEW"): SIZE // 2}  # only the inserted chunk is downloaded
    # patching would write the 4 shifted ranges twice (staging, then in place): more than the file
    assert pak.options[Strategy.PATCH].write_bytes == 2 * 4 * SIZE
    assert pak.options[Strategy.WRITE].write_bytes == 5 * SIZE
    assert plan.local[cid("b")] == ("pak", SIZE)


def test_an_edit_in_place_is_patched_writing_only_the_changed_range() -> None:
    old = manifest(entry("pak", ["a", "b", "c", "d", "e"]))
    new = manifest(entry("pak", ["a", "b", "X", "d", "e"]))
    plan = plan_update(new, old, ["pak"])
    pak = plan.files[0]
    assert pak.strategy is Strategy.PATCH
    assert [r.id for r in pak.writes] == [cid("X")]
    assert plan.write_bytes == 2 * SIZE  # staged once, copied in once
    assert plan.fetch_bytes == SIZE // 2
    assert pak.options[Strategy.WRITE] == pak.options[Strategy.WRITE].__class__(SIZE // 2, 5 * SIZE)


def test_files_the_new_build_lacks_are_deleted_and_their_chunks_reused() -> None:
    old = manifest(entry("gone", ["g", "h"]), entry("kept", ["k"]))
    new = manifest(entry("kept", ["k"]), entry("fresh", ["h", "n"]))
    plan = plan_update(new, old, ["gone", "kept"])
    assert plan.deletes == ["gone"]
    assert strategies(plan)["fresh"] is Strategy.WRITE
    assert plan.fetch == {cid("n"): SIZE // 2}  # h is copied from "gone" before it is deleted


def test_a_move_never_takes_a_file_whose_path_becomes_a_directory() -> None:
    old = manifest(entry("data", ["d"]))
    new = manifest(entry("data/inner", ["d"]))
    plan = plan_update(new, old, ["data"])
    assert strategies(plan) == {"data/inner": Strategy.WRITE}  # copied locally instead
    assert plan.fetch_bytes == 0
    assert plan.deletes == ["data"]


def test_the_plan_is_a_function_of_its_inputs() -> None:
    old = manifest(entry("a", ["1", "2", "3"]), entry("b", ["4"]))
    new = manifest(entry("a", ["1", "X", "3"]), entry("c", ["4"]), entry("d", ["2", "5"]))
    first, second = plan_update(new, old, ["a", "b"]), plan_update(new, old, ["b", "a"])
    assert [(f.path, f.strategy, f.writes) for f in first.files] == [
        (f.path, f.strategy, f.writes) for f in second.files
    ]
    assert first.fetch == second.fetch and first.deletes == second.deletes
