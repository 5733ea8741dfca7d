"""CSV cells written column by column (cells.csv_columns) are those of cells.csv_cell."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Enum, Integer, Numeric, String

from app.models.base import UTCDateTime
from app.models.task import TaskStatus
from app.services.cells import ANY, DAY, INT, TEXT, csv_cell, csv_columns, csv_kind

TEXTS = [None, "", "甲村党支部", "=1+1", "+86", "-3", "@王五", "\t缩进", "\r回车", "a\nb",
         "控制\x07字符", "\x00=隐藏的公式", "全角\u3000空格", "引号\"逗号,", "'已加引号",
         "\ufeff开头", "emoji 🎉"]
DAYS = [None, "", date(2030, 6, 30), datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC),
        datetime(2026, 11, 30, 1, 2, 3)]
ANYS = [None, True, False, 1, 2.5, Decimal("12.50"), TaskStatus.verified, ["a", "b"],
        {"k": "值"}, "=x", date(2030, 1, 1)]


def _csv(rows: Any) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_each_kind_writes_what_csv_cell_writes() -> None:
    width = max(len(TEXTS), len(DAYS), len(ANYS))
    ints = [None, 0, -5, 2**40]
    rows = [(ints[i % len(ints)], TEXTS[i % len(TEXTS)], DAYS[i % len(DAYS)],
             ANYS[i % len(ANYS)]) for i in range(width)]
    ours = _csv(csv_columns((INT, TEXT, DAY, ANY), rows))
    theirs = _csv([[csv_cell(v) for v in row] for row in rows])
    assert ours == theirs
    assert _csv(csv_columns((INT,), [])) == ""


def test_the_kind_follows_the_sql_type() -> None:
    assert [csv_kind(t) for t in (Integer(), BigInteger(), String(), Date(), UTCDateTime(),
                                  Enum(TaskStatus), Boolean(), Numeric(), JSON())] == [
        INT, INT, TEXT, DAY, DAY, ANY, ANY, ANY, ANY]
