"""The planner with deltas: a patch is fetched instead of a chunk only when every base chunk is on
disk, the base adds up, and the patch is cheaper; the costs follow the choice."""

from __future__ import annotations

from parovoz.content.plan import Strategy, plan_update
from parovoz.content.staging import tasks_of
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest
from tests.unit.content.test_plan import SIZE, cid, entry, manifest


def _delta(new: Manifest, target: str, base: list[str], stored: int, from_build: str = "b1") -> None:
    patch_id = cid(f"patch-{target}-{from_build}")
    new.deltas.add(target=cid(target), base=[cid(b) for b in base], patch_id=patch_id, patch_size=stored,
                   patch_stored_size=stored, from_build=from_build, base_size=SIZE * len(base))  # fmt: skip
    ordered = sorted(new.deltas, key=lambda d: (d.target, d.from_build))
    del new.deltas[:]
    new.deltas.extend(ordered)


def _update() -> tuple[Manifest, Manifest]:
    """pack: y edited into Y; other: z edited into Z (its base is in another file)."""
    old = manifest(entry("pack", ["x", "y", "w"]), entry("other", ["z"]))
    new = manifest(entry("pack", ["x", "Y", "w"]), entry("other", ["Z"]))
    return old, new


def test_a_delta_whose_base_is_on_disk_is_fetched_instead_of_the_chunk() -> None:
    old, new = _update()
    _delta(new, "Y", ["y"], 40)
    plan = plan_update(new, old, ["pack", "other"])
    assert set(plan.deltas) == {cid("Y")}
    chosen = plan.deltas[cid("Y")]
    assert chosen.patch_id == cid("patch-Y-b1")
    assert [(b.id, b.path, b.offset, b.size) for b in chosen.bases] == [(cid("y"), "pack", SIZE, SIZE)]
    assert plan.fetch == {cid("Y"): 40, cid("Z"): SIZE // 2}
    assert plan.fetch_bytes == 40 + SIZE // 2
    assert plan.all_new.fetch_bytes == 40 + SIZE // 2
    pack = next(f for f in plan.files if f.path == "pack")
    assert pack.strategy is Strategy.PATCH and pack.options[Strategy.PATCH].fetch_bytes == 40
    tasks = {t.id: t for t in tasks_of(plan)}
    assert tasks[cid("Y")].patch == chosen and tasks[cid("Z")].patch is None


def test_a_delta_whose_base_file_is_not_on_disk_is_not_used() -> None:
    old, new = _update()
    _delta(new, "Y", ["y"], 40)
    _delta(new, "Z", ["z", "y"], 30)  # z's file is missing below
    plan = plan_update(new, old, ["pack"])
    assert set(plan.deltas) == {cid("Y")}
    assert plan.fetch[cid("Z")] == SIZE // 2


def test_a_delta_no_cheaper_than_the_chunk_or_with_another_base_size_is_not_used() -> None:
    old, new = _update()
    _delta(new, "Y", ["y"], SIZE // 2)  # as large as the chunk's own blob
    _delta(new, "Z", ["z"], 30)
    new.deltas[1].base_size += 1  # not what the old build's z adds up to
    plan = plan_update(new, old, ["pack", "other"])
    assert plan.deltas == {}
    assert plan.fetch_bytes == SIZE


def test_the_cheapest_delta_wins_and_the_choice_is_deterministic() -> None:
    old, new = _update()
    _delta(new, "Y", ["y"], 60, from_build="b0")
    _delta(new, "Y", ["y"], 40, from_build="b1")
    _delta(new, "Y", ["w"], 40, from_build="b2")  # as cheap: the first by build id stays
    plans = [plan_update(new, old, ["pack", "other"]) for _ in range(2)]
    assert plans[0].deltas == plans[1].deltas
    assert plans[0].deltas[cid("Y")].from_build == "b1"


def test_a_chunk_on_disk_needs_no_delta_and_a_fresh_install_uses_none() -> None:
    old = manifest(entry("pack", ["x", "y"]), entry("moved", ["Y"]))
    new = manifest(entry("pack", ["x", "Y"]))
    _delta(new, "Y", ["y"], 40)
    assert plan_update(new, old, ["pack", "moved"]).deltas == {}  # Y is copied from "moved"
    fresh = plan_update(new, None, [])
    assert fresh.deltas == {} and fresh.fetch_bytes == 2 * (SIZE // 2)
