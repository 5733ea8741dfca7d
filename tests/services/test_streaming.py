"""Reading ahead of a download (app.services.streaming)."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from app.models.township import Township
from app.services.streaming import read_ahead, row_batches, rows_of
from tests.factories import committed, make_township


def test_items_come_in_order_and_errors_where_they_are_read() -> None:
    def items() -> Iterator[int]:
        yield from range(100)
        raise ValueError("query failed")

    got: list[int] = []
    with pytest.raises(ValueError, match="query failed"):
        for item in read_ahead(items):
            got.append(item)
    assert got == list(range(100))


def test_a_reader_that_stops_early_stops_and_closes_the_producer() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def items() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    threads_before = threading.active_count()
    reader = read_ahead(items, ahead=2)
    assert next(reader) == 0
    reader.close()  # the download was aborted
    assert closed.is_set()
    assert len(produced) <= 5  # it did not run on
    assert threading.active_count() == threads_before


def test_nothing_is_read_until_asked_for() -> None:
    started = threading.Event()

    def items() -> Iterator[int]:
        started.set()
        yield 1

    reader = read_ahead(items)
    assert not started.is_set()
    reader.close()
    assert not started.is_set()


def test_rows_in_batches_and_the_connection_back_in_the_pool(engine: Engine) -> None:
    with committed(engine) as s:
        for i in range(7):
            make_township(s, name=f"镇{i}")
    stmt = select(Township.name).order_by(Township.id)
    batches = list(row_batches(engine, stmt, size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r[0] for b in batches for r in b] == [f"镇{i}" for i in range(7)]
    early = rows_of(row_batches(engine, stmt, size=2))
    assert next(early)[0] == "镇0"
    early.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_an_aborted_xlsx_download_stops_its_reader() -> None:
    """Closing the .xlsx stream closes the rows it was writing, down to their reader."""
    from app.services.exports import as_xlsx

    closed = threading.Event()

    def batches() -> Iterator[list[tuple[int, str]]]:
        try:
            for b in range(1000):
                yield [(i, f"{i * 7919 % 104729:x}-措施-{i}")
                       for i in range(b * 500, b * 500 + 500)]
        finally:
            closed.set()

    threads_before = threading.active_count()
    chunks = as_xlsx(("id", "title"), rows_of(read_ahead(batches)), "tasks")
    assert next(chunks).startswith(b"PK")
    sent = 0
    while sent < 200_000:  # well into the rows
        sent += len(next(chunks))
    chunks.close()  # the client went away
    assert closed.wait(5)
    deadline = 50
    while threading.active_count() > threads_before and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    assert threading.active_count() == threads_before


def test_closed_from_its_own_producer_thread_it_stops_without_error() -> None:
    """The garbage collector may finalize an abandoned reader in the producer's thread:
    it stops there (no join of the current thread) and closes its source."""
    taken = threading.Event()
    closed = threading.Event()
    errors: list[BaseException] = []

    def items() -> Iterator[int]:
        try:
            yield 0
            taken.wait(5)
            try:
                reader.close()  # as a collection in this thread would
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            yield from range(1, 10_000)
        finally:
            closed.set()

    threads_before = threading.active_count()
    reader = read_ahead(items, ahead=1)
    assert next(reader) == 0
    taken.set()
    assert closed.wait(5)
    assert errors == []
    deadline = 50
    while threading.active_count() > threads_before and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    assert threading.active_count() == threads_before
