"""The label store: creation, leases under threads and processes, answers, undo, export, durability."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import activelab.label.store as store_module
from activelab.label.data import ItemRecord
from activelab.label.store import (
    AnswerIn,
    BadLabelError,
    BadRequestError,
    LeasedError,
    Store,
    StoreError,
    StoreFormatError,
    UidConflictError,
    UnknownItemError,
)

CLASSES = ["cat", "dog", "bird"]
PKG = Path(store_module.__file__).resolve().parents[1]  # src/activelab

# A child process imports the store without activelab's package __init__ (which loads torch): fast.
CHILD_PRELUDE = f"""
import json, os, sys, types
for name, sub in (("activelab", ""), ("activelab.label", "label")):
    mod = types.ModuleType(name)
    mod.__path__ = [os.path.join({str(PKG)!r}, sub)]
    sys.modules[name] = mod
from activelab.label.store import Store
"""


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD_PRELUDE + code, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def make_items(n: int, *, given: dict[int, int] | None = None) -> list[ItemRecord]:
    given = given or {}
    return [ItemRecord(id=f"it{i}", kind="text", text=f"text {i}", given_label=given.get(i)) for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.create(tmp_path / "labels.sqlite", CLASSES, make_items(30), seed=3)
    yield s
    s.close()


def fallback_order(n: int, seed: int) -> list[int]:
    return np.argsort(np.random.default_rng(seed).permutation(n)).tolist()


# --------------------------------------------------------------------------- create / open


def test_create_then_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    items = make_items(5, given={2: 1}) + [ItemRecord(id="img", kind="image", path="a/b.png"),
                                            ItemRecord(id="f", kind="features", given_label="bird")]
    Store.create(path, CLASSES, items, seed=7).close()
    with Store(path) as s:
        assert s.classes == tuple(CLASSES) and s.n_classes == 3 and s.n_items == 7 and s.seed == 7
        assert s.item("img") == {"id": "img", "idx": 5, "kind": "image", "text": None, "path": "a/b.png", "given_label": None}
        assert [d["id"] for d in s.items_by_index(np.array([6, 0, 6]))] == ["f", "it0", "f"]
        assert s.index_of(["it3", "f"]).tolist() == [3, 6] and s.index_of([]).dtype == np.int64
        assert s.id_of([4, 1]) == ["it4", "it1"]
        # given labels are answers of "import" and count as labels
        idx, labels, kinds = s.effective_answers()
        assert idx.tolist() == [2, 6] and labels.tolist() == [1, 2] and kinds.tolist() == ["label", "label"]
        assert [(a["uid"], a["annotator"]) for a in s.export()] == [("import:it2", "import"), ("import:f", "import")]
        assert s.per_class_counts() == {"cat": 0, "dog": 1, "bird": 1} and s.answer_count() == 2
        with pytest.raises(UnknownItemError, match="'nope'") as err:
            s.index_of(["it1", "nope", "nope2"])
        assert err.value.status == 404 and err.value.field == "id"
        with pytest.raises(UnknownItemError):
            s.item("nope")
        with pytest.raises(UnknownItemError, match="7"):
            s.id_of([7])


def test_create_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "exists.sqlite"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists.sqlite"):
        Store.create(path, CLASSES, make_items(3))
    assert path.read_bytes() == b"keep me"


@pytest.mark.parametrize(("items", "classes", "error"), [
    ([ItemRecord("a", "text"), ItemRecord("a", "text")], CLASSES, BadRequestError),
    ([ItemRecord("a", "video")], CLASSES, BadRequestError),
    ([ItemRecord("a", "text", given_label=3)], CLASSES, BadLabelError),
    ([ItemRecord("a", "text", given_label="fish")], CLASSES, BadLabelError),
    ([], CLASSES, BadRequestError),
    ([ItemRecord("a", "text")], ["x", "x"], BadRequestError),
])
def test_create_checks_before_writing(tmp_path: Path, items: list[ItemRecord], classes: list[str], error: type) -> None:
    path = tmp_path / "bad.sqlite"
    with pytest.raises(error):
        Store.create(path, classes, items)
    assert not path.exists()


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.sqlite"):
        Store(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreFormatError, match="not an activelab label store"):
        Store(junk)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(StoreFormatError, match="not an activelab label store"):
        Store(other)
    newer = tmp_path / "newer.sqlite"
    Store.create(newer, CLASSES, make_items(2)).close()
    con = sqlite3.connect(newer)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreFormatError, match="version 99"):
        Store(newer)


def test_pragmas_wal_full_fk(store: Store) -> None:
    con = store._conn()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert con.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    store.add_answers("a", [AnswerIn("it1", 0, "p1")])
    raw = sqlite3.connect(store.path)  # WAL is a property of the file
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM answers")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE answers SET label = 2")
    raw.close()


def test_closed_store_refuses(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "c.sqlite", CLASSES, make_items(2))
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.lease("ann", 1)


# --------------------------------------------------------------------------- leases


def test_lease_queue_then_fallback_order(store: Store) -> None:
    fallback = fallback_order(30, 3)
    assert [d["idx"] for d in store.lease("a", 4, now=0)] == fallback[:4]
    queue = [fallback[10], 7, fallback[1], 12]  # fallback[1] is leased to "a": passed over
    store.replace_queue(queue, [0.9, 0.8, 0.7, 0.6], version=1, now=0)
    store.add_answers("z", [AnswerIn("it7", 0, "u-7")], now=1)  # answered: passed over
    got = store.lease("b", 6, now=2)
    rest = [i for i in fallback if i not in set(fallback[:4]) | {fallback[10], 7, 12}]
    assert [d["idx"] for d in got] == [fallback[10], 12, *rest[:4]]
    assert [d["score"] for d in got[:2]] == [0.9, 0.6] and got[2]["score"] is None
    assert got[0] == {"id": f"it{fallback[10]}", "idx": fallback[10], "kind": "text", "text": f"text {fallback[10]}",
                      "path": None, "lease_until": 602.0, "score": 0.9}
    assert store.queue_info(now=2) == {"size": 4, "free": 0, "version": 1, "time": 0.0}


def test_reload_gets_the_same_items_back(store: Store) -> None:
    first = [d["id"] for d in store.lease("a", 3, now=0)]
    assert [d["id"] for d in store.lease("a", 3, now=5)] == first
    store.add_answers("a", [AnswerIn(first[1], 2, "u1")], now=6)
    again = store.lease("a", 4, now=7)
    assert [d["id"] for d in again[:2]] == [first[0], first[2]] and again[2]["id"] not in first
    assert all(d["lease_until"] == 607.0 for d in again)  # refreshed
    assert [d["id"] for d in store.lease("a", 1, now=8)] == [first[0]]
    assert store.release("a", [first[0]]) == 1 and store.release("a", [first[0]]) == 0
    assert first[0] not in [d["id"] for d in store.leased_items(now=9)]


def test_expired_leases_return(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "e.sqlite", CLASSES, make_items(6))
    a = {d["id"] for d in s.lease("a", 3, seconds=10, now=100)}
    b = {d["id"] for d in s.lease("b", 6, seconds=10, now=105)}
    assert len(b) == 3 and not a & b  # only the free half
    assert s.lease("c", 3, seconds=10, now=109) == []  # everything is leased
    c = {d["id"] for d in s.lease("c", 3, seconds=10, now=111)}  # a's leases ended at 110
    assert c == a
    with pytest.raises(LeasedError) as err:
        s.add_answers("a", [AnswerIn(sorted(a)[0], 0, "late")], now=112)
    assert err.value.status == 409 and err.value.field == "id"
    assert s.lease("a", 3, now=112) == []  # a's items went to c, b's are still held
    assert {d["id"] for d in s.lease("a", 3, now=116)} == b  # b's ended at 115
    assert s.expire_leases(now=1000) == 6 and s.leased_items(now=0) == []
    s.close()


def test_lease_arguments(store: Store) -> None:
    for bad_n in (0, 1001, 2.0, True):
        with pytest.raises(BadRequestError) as err:
            store.lease("a", bad_n)  # type: ignore[arg-type]
        assert err.value.field == "n" and err.value.status == 400
    for bad in ("", "x" * 101, "a\nb", None, "import"):
        with pytest.raises(BadRequestError) as err:
            store.lease(bad, 1)  # type: ignore[arg-type]
        assert err.value.field == "annotator"
    for bad_seconds in (0, -5, float("inf"), "abc"):
        with pytest.raises(BadRequestError) as err:
            store.lease("a", 1, seconds=bad_seconds)  # type: ignore[arg-type]
        assert err.value.field == "seconds"
    assert len(store.lease("x" * 100, 1000)) == 30


def test_leases_never_double_assigned_under_threads(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "t.sqlite", CLASSES, make_items(300))
    holder: dict[str, str] = {}
    answered: set[str] = set()
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for k in range(50):
                got = [d["id"] for d in s.lease(name, 3)]
                with guard:
                    for item_id in got:
                        assert holder.get(item_id, name) == name, f"{item_id} given to {name} while {holder[item_id]} holds it"
                        assert item_id not in answered, f"{item_id} was answered, yet given to {name}"
                        holder[item_id] = name
                time.sleep(0)  # hold the items a moment
                with guard:  # forget them before the store lets them go: stricter than needed
                    for item_id in got:
                        del holder[item_id]
                    if k % 2 == 0:
                        answered.update(got)
                if k % 2 == 0:
                    s.add_answers(name, [AnswerIn(i, k % 3, f"{name}-{i}") for i in got])
                else:
                    s.release(name, got)
        except BaseException as err:  # noqa: BLE001  (reported by the main thread)
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"ann{t}",)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    exported = s.export()
    assert len(exported) == len({a["id"] for a in exported}) == len(answered)  # nobody answered an item twice
    assert s.answer_count() == len(answered)
    s.close()


# --------------------------------------------------------------------------- answers


def test_answers_and_latest_wins(store: Store) -> None:
    assert len(store.lease("a", 30, now=0)) == 30
    out = store.add_answers("a", [AnswerIn("it0", 1, "u0"), ("it1", -1, "u1"), AnswerIn("it2", -2, "u2")], now=1)
    assert [(r["kind"], r["stored"], r["duplicate"]) for r in out] == [("label", True, False), ("skip", True, False),
                                                                       ("unsure", True, False)]
    still = {d["idx"] for d in store.leased_items(now=1)}
    assert len(still) == 27 and not still & {0, 1, 2}  # answered items' leases are released
    store.add_answers("b", [AnswerIn("it0", 2, "u3")], now=2)  # a second answer: the latest wins
    idx, labels, kinds = store.effective_answers()
    assert idx.tolist() == [0, 1, 2] and labels.tolist() == [2, -1, -2] and kinds.tolist() == ["label", "skip", "unsure"]
    assert store.per_class_counts() == {"cat": 0, "dog": 0, "bird": 1}
    assert store.answer_kind_counts() == {"label": 1, "skip": 1, "unsure": 1, "none": 27}
    assert store.last_seq() == 4 and store.answers_since(2) == 2
    assert store.add_answers("a", []) == []


@pytest.mark.parametrize(("bad", "error", "status", "field"), [
    (("nope", 0, "ux"), UnknownItemError, 404, "id"),
    ((3, 0, "ux"), UnknownItemError, 404, "id"),
    (("it5", 3, "ux"), BadLabelError, 422, "label"),
    (("it5", -3, "ux"), BadLabelError, 422, "label"),
    (("it5", "1", "ux"), BadLabelError, 422, "label"),
    (("it5", 1.0, "ux"), BadLabelError, 422, "label"),
    (("it5", True, "ux"), BadLabelError, 422, "label"),
    (("it5", 0, ""), BadRequestError, 400, "uid"),
    (("it5", 0, "u" * 201), BadRequestError, 400, "uid"),
    (("it5", 0, None), BadRequestError, 400, "uid"),
    (("it5", 0), BadRequestError, 400, "answers"),
    ({"id": "it5", "label": 0, "uid": "ux"}, BadRequestError, 400, "answers"),
    (("it9", 0, "ux"), LeasedError, 409, "id"),
    (("it5", 0, "u-old"), UidConflictError, 409, "uid"),
    (("it4", 1, "u-old"), UidConflictError, 409, "uid"),
])
def test_bad_answer_refuses_the_whole_batch(store: Store, bad: object, error: type, status: int, field: str) -> None:
    store.add_answers("a", [AnswerIn("it4", 0, "u-old")], now=0)
    leased = {d["id"] for d in store.lease("other", 30, now=0)}
    assert "it9" in leased
    store.release("other", [i for i in leased if i != "it9"])
    seq, state = store.last_seq(), store.effective_answers()
    with pytest.raises(error) as err:
        store.add_answers("a", [AnswerIn("it1", 0, "good1"), bad, AnswerIn("it2", 1, "good2")], now=1)  # type: ignore[list-item]
    assert err.value.status == status and err.value.field == field
    assert "answers[1]" in str(err.value)
    assert store.last_seq() == seq and [a.tolist() for a in store.effective_answers()] == [a.tolist() for a in state]


def test_bad_label_message(store: Store) -> None:
    with pytest.raises(BadLabelError, match=r"label 99 is outside the classes 0\.\.2 \(or -1 = skip, -2 = unsure\)"):
        store.add_answers("a", [AnswerIn("it1", 99, "u")])
    with pytest.raises(BadRequestError) as err:
        store.add_answers("import", [AnswerIn("it1", 0, "u")])
    assert err.value.field == "annotator"


def test_idempotent_retry_and_uid_conflict(store: Store) -> None:
    batch = [AnswerIn("it3", 1, "r1"), AnswerIn("it4", 0, "r2")]
    first = store.add_answers("a", batch, now=1)
    store.lease("b", 30, now=2)  # b now holds every unanswered item, a's retry must still be a no-op
    again = store.add_answers("a", batch, now=3)
    assert [(r["stored"], r["duplicate"], r["seq"]) for r in again] == [(False, True, r["seq"]) for r in first]
    assert [a["uid"] for a in store.export()] == ["r1", "r2"]
    mixed = store.add_answers("a", [AnswerIn("it3", 1, "r1"), AnswerIn("it3", 2, "r3"), AnswerIn("it3", 2, "r3")], now=4)
    assert [(r["stored"], r["duplicate"]) for r in mixed] == [(False, True), (True, False), (False, True)]
    assert mixed[1]["seq"] == mixed[2]["seq"]
    with pytest.raises(UidConflictError):
        store.add_answers("b", [AnswerIn("it3", 1, "r1")])  # same answer, another annotator
    with pytest.raises(UidConflictError):
        store.add_answers("a", [AnswerIn("it3", 1, "r9"), AnswerIn("it4", 1, "r9")])  # one uid, two answers
    assert len(store.export()) == 3


# --------------------------------------------------------------------------- undo and export


def test_undo_walks_back(store: Store) -> None:
    store.add_answers("a", [AnswerIn("it1", 0, "a1")], now=1)
    store.add_answers("b", [AnswerIn("it1", 1, "b1")], now=2)
    store.add_answers("a", [AnswerIn("it1", 2, "a2"), AnswerIn("it2", -1, "a3")], now=3)
    assert store.undo_last("c", "c-undo") is None and store.last_seq() == 4  # nothing stored

    undone = store.undo_last("a", "undo1", now=4)
    assert undone is not None and (undone["uid"], undone["id"], undone["kind"], undone["duplicate"]) == ("a3", "it2", "skip", False)
    assert undone["lease_until"] == 604.0  # it2 has no answer left: leased back to a
    assert [d["id"] for d in store.lease("a", 1, now=5)] == ["it2"]
    retry = store.undo_last("a", "undo1", now=5)
    assert retry is not None and retry["uid"] == "a3" and retry["duplicate"] is True
    with pytest.raises(UidConflictError):
        store.undo_last("b", "undo1")
    with pytest.raises(UidConflictError):
        store.undo_last("a", "a1")  # an answer's uid

    assert store.undo_last("a", "undo2", now=6)["uid"] == "a2"  # type: ignore[index]
    idx, labels, _ = store.effective_answers()
    assert idx.tolist() == [1] and labels.tolist() == [1]  # back to b's answer
    assert store.undo_last("a", "undo3", now=7)["uid"] == "a1"  # type: ignore[index]
    assert store.effective_answers()[1].tolist() == [1]  # b's answer is later than a1: unchanged
    assert store.undo_last("a", "undo4", now=8) is None
    assert store.undo_last("b", "undo5", now=9)["uid"] == "b1"  # type: ignore[index]
    assert store.answer_count() == 0 and store.export() == []
    store.add_answers("b", [AnswerIn("it1", 0, "b2")], now=10)
    assert store.effective_answers()[1].tolist() == [0]
    assert store.answers_since(0) == 9


def test_export_content_and_order(store: Store) -> None:
    store.add_answers("b", [AnswerIn("it7", 1, "e1"), AnswerIn("it3", -2, "e2")], now=10)
    store.add_answers("a", [AnswerIn("it7", 0, "e3")], now=11)
    store.undo_last("b", "e4", now=12)
    assert store.export() == [
        {"id": "it7", "label": 1, "kind": "label", "annotator": "b", "uid": "e1", "time": 10.0},
        {"id": "it7", "label": 0, "kind": "label", "annotator": "a", "uid": "e3", "time": 11.0},
    ]
    full = store.export(include_undone=True)
    assert [(a["uid"], a["undone"]) for a in full] == [("e1", False), ("e2", True), ("e3", False)]


# --------------------------------------------------------------------------- queue and models


def test_queue_and_models(store: Store) -> None:
    assert store.queue_info() == {"size": 0, "free": 0, "version": None, "time": None} and store.latest_model() is None
    assert store.add_model(0, 0, {"acc": np.float32(0.5)}, {"phase": "cold start", "n": np.int64(3)}, now=1) == 1
    assert store.add_model(5, 6, {"acc": 0.75}, {"shape": np.arange(2)}, now=2) == 2
    assert [m["version"] for m in store.models()] == [1, 2] and store.models()[0]["info"] == {"phase": "cold start", "n": 3}
    assert store.latest_model() == {"version": 2, "time": 2.0, "n_labelled": 5, "n_answers": 6, "metrics": {"acc": 0.75},
                                    "info": {"shape": [0, 1]}}
    store.replace_queue(np.array([3, 1, 2]), np.array([0.3, 0.2, np.nan]), 2, now=5)
    assert store.queue_scores() == {"it3": 0.3, "it1": 0.2, "it2": None}
    store.replace_queue([], [], 3, now=6)
    assert store.queue_info() == {"size": 0, "free": 0, "version": 3, "time": 6.0}
    with pytest.raises(BadRequestError, match="repeat"):
        store.replace_queue([1, 1], [0.0, 0.0], 4)
    with pytest.raises(BadRequestError):
        store.replace_queue([1, 2], [0.0], 4)
    with pytest.raises(UnknownItemError):
        store.replace_queue([30], [0.0], 4)
    with pytest.raises(BadRequestError):
        store.add_model(1, 1, {"f": object()}, {})
    assert store.queue_info()["version"] == 3


# --------------------------------------------------------------------------- processes


def test_answer_is_committed_before_return(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    s = Store.create(path, CLASSES, make_items(10))
    s.add_answers("a", [AnswerIn("it4", 2, "d1")])
    # another process, right away, while this connection stays open
    child = run_child("s = Store(sys.argv[1]); print(json.dumps(s.export()[0]))", str(path))
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout)["uid"] == "d1"
    # and the other way round: a process that dies without closing anything after its answer returned
    child = run_child(
        "s = Store(sys.argv[1]); s.add_answers('b', [('it5', 1, 'd2')]); os._exit(0)", str(path)
    )
    assert child.returncode == 0, child.stderr
    assert [a["uid"] for a in s.export()] == ["d1", "d2"]
    s.close()


def test_concurrent_writer_process(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    s = Store.create(path, CLASSES, make_items(300))
    code = """
s = Store(sys.argv[1])
print("ready", flush=True)
leased = []
for v in range(1, 81):
    s.replace_queue(list(range(v % 50, v % 50 + 20)), [0.5] * 20, v)
    leased += [d["id"] for d in s.lease(f"child{v}", 1)]
print(json.dumps(leased))
"""
    child = subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + code, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    mine: list[str] = []
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"  # both loops overlap
        for k in range(80):
            got = [d["id"] for d in s.lease("parent", 1)]
            mine += got
            s.add_answers("parent", [AnswerIn(i, k % 3, f"p{k}-{i}") for i in got])
    finally:
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "locked" not in err
    theirs = json.loads(out.splitlines()[-1])
    assert len(mine) == 80 and len(theirs) == 80 and not set(mine) & set(theirs)  # never the same item twice
    assert s.queue_info()["version"] == 80 and s.answer_count() == 80
    s.close()


# --------------------------------------------------------------------------- pairs stores

PAIRS = ["different", "same"]


@pytest.fixture
def pairs_store(tmp_path: Path) -> Iterator[Store]:
    s = Store.create(tmp_path / "pairs.sqlite", PAIRS, make_items(6, given={0: 2, 3: 0}), seed=1, task="pairs")
    yield s
    s.close()


def test_pairs_store_keeps_given_groups_and_makes_pair_items_idempotently(pairs_store: Store) -> None:
    s = pairs_store
    assert s.task == "pairs" and s.classes == tuple(PAIRS) and s.n_items == 6
    assert s.given_labels().tolist() == [2, -1, -1, 0, -1, -1]  # the data's groups, for evaluation only
    assert s.export() == [] and s.answer_count() == 0  # never answers
    ids = s.add_pair_items(np.array([[4, 1], [0, 2], [1, 4]]))
    assert ids == ["it1~it4", "it0~it2", "it1~it4"]  # canonical order (a < b), the same pair once
    assert s.add_pair_items([[2, 0]]) == ["it0~it2"] and s.add_pair_items(np.empty((0, 2), dtype=int)) == []
    assert s.n_items == 6 and s.n_pair_items() == 2 and s.index_of(ids).tolist() == [6, 7, 6]
    assert s.item("it1~it4") == {"id": "it1~it4", "idx": 6, "kind": "pair", "text": None, "path": None,
                                 "given_label": None, "a": 1, "b": 4}
    assert [d["id"] for d in s.items_by_index([7, 0])] == ["it0~it2", "it0"] and s.id_of([7]) == ["it0~it2"]
    assert s.pair_items() == [{"id": "it1~it4", "idx": 6, "a": 1, "b": 4, "a_id": "it1", "b_id": "it4"},
                              {"id": "it0~it2", "idx": 7, "a": 0, "b": 2, "a_id": "it0", "b_id": "it2"}]
    for bad, error in (([[1, 1]], BadRequestError), ([[0, 6]], UnknownItemError), ([[0.5, 1]], BadRequestError),
                       ([1, 2, 3], BadRequestError)):
        with pytest.raises(error):
            s.add_pair_items(bad)
    assert s.n_pair_items() == 2


def test_pairs_store_leases_only_queued_pairs(pairs_store: Store) -> None:
    s = pairs_store
    assert s.lease("a", 10, now=0) == []  # no queue: nothing (base items are never leased)
    ids = s.add_pair_items([[0, 1], [2, 3], [4, 5]])
    with pytest.raises(BadRequestError, match="pair items only"):
        s.replace_queue([0, 6], [1.0, 0.5], 1)
    s.replace_queue(s.index_of(ids[:2]), [1.0, 0.5], 1, now=0)
    got = s.lease("a", 10, now=1)
    assert [(d["id"], d["kind"], d["a"], d["b"], d["score"]) for d in got] == [
        ("it0~it1", "pair", 0, 1, 1.0), ("it2~it3", "pair", 2, 3, 0.5)]
    assert s.lease("b", 10, now=2) == []  # the third pair is not queued: no fallback
    assert [d["id"] for d in s.lease("a", 10, now=3)] == ids[:2]  # a reload gets the same pairs back


def test_pairs_store_answers_undo_and_export(pairs_store: Store) -> None:
    s = pairs_store
    ids = s.add_pair_items([[0, 1], [2, 3], [4, 5], [0, 5]])
    stored = s.add_answers("a", [(ids[0], 1, "u1"), (ids[1], 0, "u2"), (ids[2], -1, "u3"), (ids[3], -2, "u4")], now=5)
    assert [r["kind"] for r in stored] == ["label", "label", "skip", "unsure"]
    assert s.add_answers("a", [(ids[0], 1, "u1")])[0]["duplicate"]  # a retry stores nothing
    pairs, labels, kinds = s.pair_answers()
    assert pairs.tolist() == [[0, 1], [2, 3], [4, 5], [0, 5]] and labels.tolist() == [1, 0, -1, -2]
    assert kinds.tolist() == ["label", "label", "skip", "unsure"]
    assert s.per_class_counts() == {"different": 1, "same": 1}
    assert s.answer_kind_counts() == {"label": 2, "skip": 1, "unsure": 1, "none": 0}
    with pytest.raises(BadLabelError):
        s.add_answers("a", [(ids[0], 2, "u5")])  # only different (0) and same (1)
    with pytest.raises(BadRequestError, match="pair items") as err:
        s.add_answers("a", [("it0", 1, "u6")])  # a base item is never answered
    assert err.value.field == "id"
    assert s.undo_last("a", "u7", now=6)["id"] == ids[3]
    assert [a["id"] for a in s.export()] == ids[:3]
    assert s.pair_answers()[0].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_pair_items_added_by_another_store_are_found(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    server = Store.create(path, PAIRS, make_items(4), task="pairs")
    assert server.index_of(["it0"]).tolist() == [0]  # the id cache is read now
    trainer = Store(path)  # another process's view of the file
    (pair,) = trainer.add_pair_items([[1, 3]])
    trainer.replace_queue(trainer.index_of([pair]), [1.0], 1)
    trainer.close()
    assert server.lease("a", 5)[0]["id"] == pair
    assert server.add_answers("a", [(pair, 1, "x")])[0]["stored"] and server.id_of([4]) == [pair]
    server.close()


def test_pair_ids_stay_unique_when_base_ids_hold_the_separator(tmp_path: Path) -> None:
    items = [ItemRecord(id=i, kind="text", text=i) for i in ("x~y", "z", "x", "y~z")]
    with Store.create(tmp_path / "p.sqlite", PAIRS, items, task="pairs") as s:
        assert s.add_pair_items([[0, 1], [2, 3]]) == ["x~y~z", "x~y~z~2"]


def test_pairs_store_checks_and_classify_stores_refuse_pairs(tmp_path: Path, store: Store) -> None:
    with pytest.raises(BadRequestError, match="different"):
        Store.create(tmp_path / "a.sqlite", CLASSES, make_items(3), task="pairs")
    with pytest.raises(BadLabelError, match="group index"):
        Store.create(tmp_path / "b.sqlite", PAIRS, make_items(3, given={0: "cat"}), task="pairs")  # type: ignore[dict-item]
    with pytest.raises(BadRequestError):
        Store.create(tmp_path / "c.sqlite", PAIRS, make_items(3), task="sort")
    assert not any((tmp_path / f"{n}.sqlite").exists() for n in "abc")
    assert store.task == "classify" and store.n_pair_items() == 0
    with pytest.raises(BadRequestError, match="pairs store"):
        store.add_pair_items([[0, 1]])


def test_a_format_1_store_opens_as_classify(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Store.create(path, CLASSES, make_items(3)).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    con.execute("DELETE FROM meta WHERE key = 'task'")
    con.commit()
    con.close()
    with Store(path) as s:
        assert s.task == "classify" and s.n_items == 3 and len(s.lease("a", 5)) == 3
