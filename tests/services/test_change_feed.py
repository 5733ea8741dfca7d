"""The change feed: every committed change exactly once, in commit order.

A reader follows `next_cursor` from the start. Nothing rolled back may appear, a soft delete
appears as a deletion, and a transaction that started early but commits late must still be
read after the cursor has moved past later-started ones.
"""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.db import new_session, transaction
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.change import Change, ChangePublic
from app.models.township import Township
from app.models.user import Role
from app.services.actors import SYSTEM, Actor
from app.services.changefeed import changes_json, read_changes
from tests.factories import committed, make_branch, make_township, make_user

T = TypeVar("T")
WAIT = 30  # seconds any single step may take before the test fails instead of hanging
Key = tuple[str, int, str, int]  # (type, id, op, version)


def key(c: ChangePublic) -> Key:
    return (c.type, c.id, c.op, c.version)


def follow(
    engine: Engine, cursor: str | None = None, *, limit: int = 50, actor: Actor = SYSTEM
) -> tuple[list[ChangePublic], str | None]:
    """Read the feed after `cursor` to its current end; answer the changes and the new cursor."""
    seen: list[ChangePublic] = []
    with new_session(engine) as session:
        while True:
            page = read_changes(
                session=session, actor=actor, cursor=cursor, limit=limit, types=None
            )
            seen += page.changes
            cursor = page.next_cursor
            if not page.has_more:
                return seen, cursor


@contextmanager
def worker_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """Threads for a test that, when it fails, does not wait for a stuck one to finish."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in another thread and fail (not hang) if it takes longer than WAIT."""
    with worker_pool(1) as pool:
        return pool.submit(fn).result(timeout=WAIT)


def limit_lock_wait(session: Session) -> None:
    """On PostgreSQL, a statement waiting for a lock longer than WAIT fails instead."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{WAIT}s'")


def change_rows(engine: Engine) -> int:
    with new_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Change)) or 0


def require_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: PostgreSQL only")


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_following_the_cursor_yields_every_commit_once_in_commit_order(
    engine: Engine, limit: int
) -> None:
    with committed(engine) as s:
        township = make_township(s, name="一镇")
    with committed(engine) as s:
        a = make_branch(s, township, name="甲村党支部")
    with committed(engine) as s:
        a = s.merge(a)
        a.member_count = 31
        b = make_branch(s, township, name="乙村党支部")
    with committed(engine) as s:
        a = s.merge(a)
        a.member_count = 32
    with committed(engine) as s:
        admin = make_user(s, Role.county_admin, username="feedadmin")

    changes, cursor = follow(engine, limit=limit)

    commits = [
        {("township", township.id, "upsert", 1)},
        {("branch", a.id, "upsert", 1)},
        {("branch", a.id, "upsert", 2), ("branch", b.id, "upsert", 1)},  # one transaction
        {("branch", a.id, "upsert", 3)},
        {("user", admin.id, "upsert", 1)},
    ]
    keys = [key(c) for c in changes]
    assert len(keys) == sum(len(c) for c in commits)
    at = 0
    for commit in commits:  # in commit order; within one commit, any order
        assert set(keys[at : at + len(commit)]) == commit
        at += len(commit)
    assert changes[4].data is not None and changes[4].data["member_count"] == 32
    assert "password_hash" not in (changes[5].data or {})
    # the end of the feed answers nothing new, and keeps the cursor
    again, same_cursor = follow(engine, cursor, limit=limit)
    assert again == [] and same_cursor == cursor


def test_the_api_page_is_the_json_of_the_page_model(engine: Engine) -> None:
    """`changes_json` (what /changes answers, encoded once a page) is byte for byte the JSON
    of `read_changes`' ChangePage: the same fields, values and order."""
    with committed(engine) as s:
        township = make_township(s, name="一镇")
        make_branch(s, township, name="甲村“党支部”\n", notes="收入 12.5 万\t元")
    with committed(engine) as s:
        make_user(s, Role.county_admin, username="jsonadmin")
    with new_session(engine) as session:
        cursor = None
        for _ in range(4):
            args = {"session": session, "actor": SYSTEM, "cursor": cursor, "limit": 2,
                    "types": None}
            page = read_changes(**args)  # type: ignore[arg-type]
            assert changes_json(**args) == page.model_dump_json().encode()  # type: ignore[arg-type]
            cursor = page.next_cursor
        assert not page.has_more


def test_a_record_changed_twice_in_one_transaction_is_one_change(engine: Engine) -> None:
    with committed(engine) as s:
        township = make_township(s)
        branch = make_branch(s, township)
        branch.member_count = 40
        s.flush()
        branch.member_count = 41
    changes, _ = follow(engine)
    branch_changes = [c for c in changes if c.type == "branch"]
    assert len(branch_changes) == 1
    assert branch_changes[0].version == 3
    assert branch_changes[0].data is not None and branch_changes[0].data["member_count"] == 41


def test_rolled_back_transactions_leave_no_change(engine: Engine) -> None:
    with committed(engine) as s:
        township = make_township(s)
    before = change_rows(engine)

    with pytest.raises(RuntimeError), transaction(engine) as s:
        make_branch(s, s.merge(township), name="不会保存的村党支部")
        raise RuntimeError("abort")

    session = new_session(engine, write=True)
    try:
        make_branch(session, session.merge(township), name="回滚的村党支部")
        session.rollback()
        kept = make_branch(session, session.merge(township), name="保存的村党支部")
        session.commit()
    finally:
        session.close()

    changes, _ = follow(engine)
    assert change_rows(engine) == before + 1
    assert [key(c) for c in changes if c.type == "branch"] == [
        ("branch", kept.id, "upsert", 1)
    ]
    assert changes[-1].data is not None and changes[-1].data["name"] == "保存的村党支部"


def test_a_session_closed_without_commit_leaves_nothing_for_its_next_commit(
    engine: Engine,
) -> None:
    with committed(engine) as s:
        township = make_township(s)
    _, cursor = follow(engine)

    session = new_session(engine, write=True)
    try:
        make_branch(session, session.merge(township), name="关闭时丢弃的村党支部")  # flushed
        session.close()  # ends the transaction without committing it
        session.merge(township).name = "改名后的镇"
        session.commit()
    finally:
        session.close()

    changes, _ = follow(engine, cursor)
    assert [key(c) for c in changes] == [("township", township.id, "upsert", 2)]


def test_a_flush_that_changed_nothing_adds_no_change(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s))
    _, cursor = follow(engine)
    with committed(engine) as s:
        branch = s.merge(branch)
        branch.name = branch.name  # same value: not a change
    assert follow(engine, cursor) == ([], cursor)


def test_soft_delete_appears_as_delete_with_no_data(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s))
    _, cursor = follow(engine)
    with committed(engine) as s:
        branch = s.merge(branch)
        branch.deleted_at = utcnow()

    changes, _ = follow(engine, cursor)
    assert [key(c) for c in changes] == [("branch", branch.id, "delete", 2)]
    assert changes[0].data is None


def test_township_scoped_reader_sees_only_its_township(engine: Engine) -> None:
    with committed(engine) as s:
        mine, other = make_township(s), make_township(s)
        own_branch = make_branch(s, mine)
        make_branch(s, other)
        make_user(s, Role.township_staff, township=mine)
    staff = Actor(label="user:x", role=Role.township_staff, township_id=mine.id)
    changes, _ = follow(engine, actor=staff)
    assert sorted((c.type, c.id) for c in changes) == [
        ("branch", own_branch.id), ("township", mine.id)
    ]


def test_transaction_committing_after_a_later_one_is_not_skipped(engine: Engine) -> None:
    """T1 starts first and commits last: a reader already past T2 still gets T1, once."""
    require_postgresql(engine)
    with committed(engine) as s:
        township = make_township(s)
    _, start = follow(engine)

    t1 = new_session(engine, write=True)
    t1.info["actor"] = "test:t1"
    t2 = new_session(engine, write=True)
    t2.info["actor"] = "test:t2"
    try:
        for s in (t1, t2):
            limit_lock_wait(s)
        early = make_branch(t1, t1.merge(township), name="先开始后提交村党支部")  # flushed
        late = make_branch(t2, t2.merge(township), name="后开始先提交村党支部")
        in_thread(t2.commit)

        seen, cursor = follow(engine, start)
        assert [key(c) for c in seen] == [("branch", late.id, "upsert", 1)]

        in_thread(t1.commit)
    finally:
        t1.close()
        t2.close()

    rest, end = follow(engine, cursor)
    assert [key(c) for c in rest] == [("branch", early.id, "upsert", 1)]
    assert follow(engine, end) == ([], end)
    everything, _ = follow(engine, start)
    assert [c.id for c in everything] == [late.id, early.id]  # commit order, not start order


def test_a_commit_waiting_on_the_counter_is_read_after_the_one_holding_it(engine: Engine) -> None:
    """T1 holds the counter row (it is stamping); T2's commit waits and gets the next number."""
    require_postgresql(engine)
    with committed(engine) as s:
        township = make_township(s)
    _, start = follow(engine)

    t1 = new_session(engine, write=True)
    t2 = new_session(engine, write=True)
    try:
        limit_lock_wait(t2)
        first = make_branch(t1, t1.merge(township), name="持有计数器村党支部")
        second = make_branch(t2, t2.merge(township), name="等待计数器村党支部")
        # take the counter row in T1 as its own commit would, so T2's commit has to wait
        t1.connection().exec_driver_sql("SELECT value FROM change_counter WHERE id = 1 FOR UPDATE")
        with worker_pool(1) as pool:
            waiting = pool.submit(t2.commit)
            time.sleep(0.5)
            assert not waiting.done(), "T2 committed while T1 held the counter row"
            assert follow(engine, start)[0] == []  # nothing visible yet
            in_thread(t1.commit)
            waiting.result(timeout=WAIT)
    finally:
        t1.close()
        t2.close()

    changes, _ = follow(engine, start)
    assert [c.id for c in changes] == [first.id, second.id]


def _writer(engine: Engine, township_id: int, n: int, rounds: int) -> list[Key]:
    """Commit `rounds` transactions (create, then updates, then a delete); answer their changes."""
    done: list[Key] = []
    branch_id: int | None = None
    for r in range(rounds):
        with transaction(engine, actor=f"test:w{n}") as s:
            limit_lock_wait(s)
            if branch_id is None:
                township = s.get(Township, township_id)
                assert township is not None
                branch = make_branch(s, township, name=f"并发{n}村党支部")
            else:
                found = s.get(Branch, branch_id)
                assert found is not None
                branch = found
                if r == rounds - 1:
                    branch.deleted_at = utcnow()
                else:
                    branch.member_count = branch.member_count + 1
            s.flush()
            assert branch.id is not None
            branch_id = branch.id
            version = branch.version
            op = "delete" if branch.deleted_at else "upsert"
        done.append(("branch", branch_id, op, version))
    return done


def test_concurrent_writers_and_a_polling_reader_agree(engine: Engine) -> None:
    # PostgreSQL is the case that matters (writers really overlap); SQLite runs it too, its
    # writers taking turns on the database lock while the reader reads a WAL snapshot.
    writers, rounds = 8, 12
    with committed(engine) as s:
        township = make_township(s)
    _, start = follow(engine)
    assert township.id is not None

    stop = threading.Event()
    polled: list[ChangePublic] = []

    def reader() -> None:
        cursor = start
        while not stop.is_set():
            got, cursor = follow(engine, cursor, limit=7)
            polled.extend(got)
        got, cursor = follow(engine, cursor, limit=7)  # drain after the last commit
        polled.extend(got)

    with worker_pool(writers + 1) as pool:
        reading = pool.submit(reader)
        futures = [
            pool.submit(_writer, engine, township.id, n, rounds) for n in range(writers)
        ]
        try:
            committed_changes = [k for f in futures for k in f.result(timeout=120)]
        finally:
            stop.set()
        reading.result(timeout=WAIT)

    seen = [key(c) for c in polled]
    assert len(seen) == len(set(seen)), "a change was read twice"
    assert set(seen) == set(committed_changes)
    assert len(seen) == writers * rounds
    # each branch's versions arrive in the order they were committed
    for n in range(writers):
        versions = [k[3] for k in seen if k[1] == committed_changes[n * rounds][1]]
        assert versions == sorted(versions) == list(range(1, rounds + 1))


def test_each_committing_transaction_takes_one_counter_number(engine: Engine) -> None:
    """Every committing transaction with changes takes one number from the counter."""
    with committed(engine) as s:
        make_branch(s, make_township(s))
    with committed(engine) as s:
        make_township(s)
    with Session(engine) as s:
        seqs = s.scalars(select(Change.commit_seq).order_by(Change.id)).all()
    assert seqs == [1, 1, 2]


def test_a_branch_in_the_feed_carries_its_flags_whoever_wrote_it() -> None:
    """The feed's branch has its derived `flags` also when written outside the API (the
    demo, a CLI), since the services package registers them."""
    import subprocess
    import sys

    code = ("import app.services.demo, sys; from app.models.base import FEED_EXTRAS; "
            "sys.exit(0 if 'branch' in FEED_EXTRAS else 1)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
