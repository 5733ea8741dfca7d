"""Rows read for a download while the previous ones are written.

An export reads a server-side cursor in batches. Read in the same thread, the writer waits
for every FETCH and the database waits for the writer; read ahead in a thread of its own,
the next batch is fetched while the current one is written, so the download takes about
as long as the slower of the two instead of their sum.
"""

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine, Select

T = TypeVar("T")
BATCH = 2000  # rows per FETCH
AHEAD = 2  # batches read ahead at most (memory: AHEAD + 1 batches)
_POLL = 0.1  # seconds between looks at whether the reader went away


def read_ahead(make: Callable[[], Iterator[T]], ahead: int = AHEAD) -> Generator[T, None, None]:
    """The items of `make()`, produced in a thread of their own up to `ahead` items ahead.

    `make` is called in that thread, so the database connection it opens is used by that
    thread alone. Its errors are raised here, where its items are consumed. When the
    consumer stops early (an aborted download: this generator is closed), the producer
    stops at its next item, closes `make()`'s iterator (and so its connection), and is
    waited for (unless it is the thread closing it)."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                items.put((kind, value), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            source = make()
            try:
                for item in source:
                    if not put("item", item):
                        return
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer)
            put("error", exc)
            return
        put("end", None)

    thread = threading.Thread(target=produce, name="export-read-ahead", daemon=True)

    def consume() -> Generator[T, None, None]:
        thread.start()  # at the first item asked for: an unread download reads nothing
        try:
            while True:
                kind, value = items.get()
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
            # an abandoned download is closed by the garbage collector, in whichever thread
            # it runs: in the producer's own, stopping it is all (it ends at its next item)
            if threading.current_thread() is not thread:
                thread.join()

    return consume()


def _fetched(engine: Engine, stmt: Select[Any], size: int) -> Iterator[list[Any]]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # JIT compiling a plan this large (the ledger's, at 1,000,000 tasks) costs
            # PostgreSQL up to a second before the first row; a stream has no use for it
            conn.exec_driver_sql("SET LOCAL jit = off")
        result = conn.execution_options(stream_results=True, yield_per=size).execute(stmt)
        for batch in result.partitions():
            yield list(batch)


def row_batches(engine: Engine, stmt: Select[Any], size: int = BATCH
                ) -> Generator[list[Any], None, None]:
    """The rows of `stmt` (Core rows, no ORM objects) in lists of up to `size`, read through
    a server-side cursor on a connection of their own (PostgreSQL: without JIT, so the
    first row comes at once), a batch or two ahead of the reader (`read_ahead`). Errors
    of the query are raised at the first batch."""
    return read_ahead(lambda: _fetched(engine, stmt, size))


def rows_of(batches: Iterator[list[T]]) -> Generator[T, None, None]:
    """The rows of `batches`, one by one; closing this closes `batches`."""
    try:
        for batch in batches:
            yield from batch
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
