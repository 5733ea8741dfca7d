"""Bulk imports (批量导入) from the spreadsheets counties already keep.

The shape is written once and driven by a column spec, so each table that can be imported
(the branch register now, a township's users next) only says what its columns are and how
a checked row is matched and written:

- `TableSpec` / `Column`: the sheet's columns, with Chinese headers as people label them,
  the kind of value each holds, and the help text of the template.
- `template_xlsx(spec)`: the template — headers, drop-down lists for choices and yes/no,
  one example row, and a sheet explaining each column.
- `read_rows(spec, stream)`: the rows of an `.xlsx` (openpyxl read-only, streamed) or a
  `.csv` (UTF-8 with or without BOM, or GB18030), the type decided by content, each cell
  normalised (full-width digits, surrounding spaces) and converted, errors per cell naming
  the column as the sheet labels it. Too many rows is an error of its own.
- `import_branches(...)`: the branch register: rows matched by township and branch name,
  `dry_run` writes nothing, otherwise all or nothing; unchanged rows are not touched.
"""

import codecs
import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Literal

from openpyxl import load_workbook
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from app.labels import LABELS
from app.models.branch import Branch, BranchCreate
from app.models.township import Township, TownshipCreate
from app.services.actors import Actor, require_county_admin, require_register_write
from app.services.branches import _check_age_bands
from app.services.cells import small_workbook
from app.services.errors import DomainError, FieldError, Forbidden, Invalid

Kind = Literal["text", "int", "decimal", "bool", "choice"]

MAX_ROWS = 50_000
MAX_ERRORS = 1000
FLUSH_EVERY = 1000  # listed; more are counted in one closing message
YES = frozenset({"是", "y", "yes", "true", "1", "√", "✓", "对"})
NO = frozenset({"否", "n", "no", "false", "0", "×", "x", "不是"})


@dataclass(frozen=True)
class Column:
    """One column of an import sheet: the field it fills and how its cells read."""

    field: str
    header: str  # as the sheet labels it
    kind: Kind = "text"
    required: bool = False
    help: str = ""
    example: str = ""
    choices: dict[str, str] | None = None  # code → label, for `choice`
    max_length: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """A table that can be imported: its sheet name and columns."""

    name: str
    columns: tuple[Column, ...]

    def by_header(self) -> dict[str, Column]:
        return {_header_key(c.header): c for c in self.columns}


@dataclass
class RowError:
    """An error of one row (1-based, as the spreadsheet numbers it) and one column."""

    row: int
    field: str
    message: str


@dataclass
class Row:
    """A read row: the converted values of the cells that were filled, and its errors."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


class FileRejected(DomainError):
    """A file that cannot be read as the table at all (type, encoding, headers, size)."""

    status = 422
    title = "文件无法导入"

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[FieldError("file", message)])


# ----------------------------------------------------------------- reading


def _header_key(text: str) -> str:
    """A header as matched: NFKC, no spaces, no required-marks (*), brackets unified."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not ch.isspace() and ch not in "*").lower()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _convert(column: Column, text: str) -> Any:
    """The cell's value, or ValueError with a Chinese message."""
    if column.kind == "text":
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
            raise ValueError("含有不可见的控制字符,请删除后重新导入")
        if column.max_length and len(text) > column.max_length:
            raise ValueError(f"不能超过{column.max_length}个字")
        return text
    plain = unicodedata.normalize("NFKC", text).replace(" ", "").replace(",", "")
    if column.kind == "int":
        try:
            number = Decimal(plain)
        except InvalidOperation:
            raise ValueError(f"应为整数,而不是“{text}”") from None
        if number != number.to_integral_value():
            raise ValueError(f"应为整数,而不是“{text}”")
        return int(number)
    if column.kind == "decimal":
        try:
            return Decimal(plain)
        except InvalidOperation:
            raise ValueError(f"应为数字,而不是“{text}”") from None
    if column.kind == "bool":
        if plain.lower() in YES:
            return True
        if plain.lower() in NO:
            return False
        raise ValueError(f"应填“是”或“否”,而不是“{text}”")
    choices = column.choices or {}
    for code, label in choices.items():
        if plain in (code, label, f"{label}党支部", f"{label}党组织"):
            return code
    raise ValueError(f"应为{'、'.join(choices.values())}之一,而不是“{text}”")


def _is_xlsx(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def _xlsx_cells(stream: IO[bytes]) -> Iterator[list[str]]:
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileRejected("文件不是有效的 Excel(.xlsx)文件") from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
    finally:
        book.close()


def _csv_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3:  # a character cut at the end of the sample
            return "utf-8"
        return "gb18030"


def _csv_cells(stream: IO[bytes], head: bytes) -> Iterator[list[str]]:
    text = io.TextIOWrapper(stream, encoding=_csv_encoding(head), newline="")
    try:
        for values in csv.reader(text):
            yield [v.strip() for v in values]
    except UnicodeDecodeError:
        raise FileRejected("文件编码无法识别:请另存为“CSV UTF-8”或 Excel(.xlsx)后再导入") from None
    except csv.Error:
        raise FileRejected("CSV 文件格式有误,无法读取") from None
    finally:
        text.detach()


def _cells(stream: IO[bytes]) -> Iterator[list[str]]:
    head = stream.read(65536)
    stream.seek(0)
    if not head:
        raise FileRejected("文件是空的")
    if _is_xlsx(head):
        return _xlsx_cells(stream)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected("不支持旧版 Excel(.xls)文件:请在 Excel 中另存为 .xlsx 后再导入")
    if b"\x00" in head:
        raise FileRejected("文件类型不支持:请上传 .xlsx 或 .csv 文件")
    return _csv_cells(stream, head)


IGNORED_HEADERS = frozenset({"序号", "编号", "no", "no."})


def _header(spec: TableSpec, values: list[str], number: int) -> list[Column | None]:
    """The column of each header cell (None: a column to skip, such as 序号 or a blank)."""
    known = spec.by_header()
    columns: list[Column | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for text in values:
        key = _header_key(text)
        column = known.get(key)
        if column is None and key and key not in IGNORED_HEADERS:
            unknown.append(text)
        if column is not None and column.field in seen:
            raise FileRejected(f"第{number}行(表头)有两个“{column.header}”列,请删除一个")
        if column is not None:
            seen.add(column.field)
        columns.append(column)
    missing = [c.header for c in spec.columns if c.required and c.field not in seen]
    if missing:
        raise FileRejected(f"第{number}行(表头)缺少“{'”、“'.join(missing)}”列:请使用导入模板")
    if unknown:
        raise FileRejected(f"第{number}行(表头)有无法识别的列“{'”、“'.join(unknown)}”:"
                           "请改成导入模板中的列名,或删除这些列")
    return columns


def read_rows(spec: TableSpec, stream: IO[bytes], *, max_rows: int = MAX_ROWS) -> Iterator[Row]:
    """The sheet's data rows, read as they stream in, each converted by its column.

    The first non-empty row is the header; columns are found by their header (序号 and
    blank headers are skipped); a missing, repeated or unknown column, an unreadable file
    or more than `max_rows` rows raise FileRejected."""
    cells = _cells(stream)
    columns: list[Column | None] | None = None
    count = 0
    for number, values in enumerate(cells, start=1):
        if not any(values):
            continue
        if columns is None:
            columns = _header(spec, values, number)
            continue
        count += 1
        if count > max_rows:
            raise FileRejected(f"文件超过{max_rows}行数据,请分成几个文件导入")
        row = Row(number)
        for column, text in zip(columns, values, strict=False):
            if column is None or text == "":
                continue
            try:
                row.values[column.field] = _convert(column, text)
            except ValueError as e:
                row.errors.append(RowError(number, column.header, str(e)))
        for column in spec.columns:
            if column.required and column.field not in row.values and not any(
                    e.field == column.header for e in row.errors):
                row.errors.append(RowError(number, column.header, f"“{column.header}”不能为空"))
        yield row
    if columns is None:
        raise FileRejected("文件中没有表头和数据")


def _message(error: Any) -> str:
    """A pydantic error in Chinese (our own validators already speak it)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    known = {
        "greater_than_equal": f"不能小于{ctx.get('ge')}",
        "less_than_equal": f"不能大于{ctx.get('le')}",
        "string_too_long": f"不能超过{ctx.get('max_length')}个字",
        "string_too_short": "不能为空",
        "missing": "不能为空",
        "decimal_max_places": f"最多{ctx.get('decimal_places')}位小数",
        "decimal_max_digits": "数值过大",
    }
    return known.get(kind, "填写有误")


def pydantic_errors(spec: TableSpec, number: int, error: ValidationError,
                    headers: dict[str, str] | None = None) -> list[RowError]:
    """A schema's validation errors as row errors naming the columns (`headers` maps the
    schema's field names to the sheet's headers where they differ from the spec's)."""
    names = {c.field: c.header for c in spec.columns} | (headers or {})
    out = []
    for e in error.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        out.append(RowError(number, names.get(name, name), _message(e)))
    return out


# ----------------------------------------------------------------- the template


def template_xlsx(spec: TableSpec) -> bytes:
    """The import template: the headers, drop-down lists for choices and yes/no, one example
    row, and a second sheet explaining each column."""
    book, out = small_workbook()
    sheet = book.add_worksheet(spec.name[:31])
    head = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1,
                            "text_wrap": True, "valign": "vcenter"})
    need = book.add_format({"bold": True, "bg_color": "#FDE9E7", "border": 1,
                            "text_wrap": True, "valign": "vcenter", "font_color": "#9C0006"})
    text = book.add_format({"num_format": "@"})
    for i, c in enumerate(spec.columns):
        sheet.write_string(0, i, c.header, need if c.required else head)
        sheet.set_column(i, i, max(10, min(30, len(c.header) * 2 + 2)),
                         text if c.kind == "text" else None)
        if c.example:
            sheet.write_string(1, i, c.example)
        if c.kind in ("choice", "bool"):
            options = list((c.choices or {}).values()) if c.kind == "choice" else ["是", "否"]
            sheet.data_validation(1, i, MAX_ROWS, i, {
                "validate": "list", "source": options, "error_title": c.header,
                "error_message": f"请从下拉列表中选择:{'、'.join(options)}",
            })
        elif c.kind == "int":
            sheet.data_validation(1, i, MAX_ROWS, i, {
                "validate": "integer", "criteria": ">=", "value": 0,
                "error_title": c.header, "error_message": "请填写不小于 0 的整数",
                "ignore_blank": True,
            })
    sheet.freeze_panes(1, 0)
    sheet.set_row(0, 32)
    guide = book.add_worksheet("填写说明")
    guide.set_column(0, 0, 24)
    guide.set_column(1, 1, 8)
    guide.set_column(2, 2, 70)
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    guide.write_row(0, 0, ["列名", "必填", "说明"], head)
    for i, c in enumerate(spec.columns, start=1):
        guide.write_string(i, 0, c.header, wrap)
        guide.write_string(i, 1, "是" if c.required else "", wrap)
        guide.write_string(i, 2, c.help, wrap)
    n = len(spec.columns) + 2
    for line in (
        f"从“{spec.name}”表的第2行起每行填写一条;示例行请改写或删除后再导入。",
        "留空的单元格:新增时按未填写处理,更新已有记录时保留原来的值。",
        "数字可用全角或半角,前后多余的空格会被忽略。",
        "可以先选择“预览”检查,确认无误后再导入;有任何错误时不会写入任何数据。",
    ):
        guide.write_string(n, 0, line)
        n += 1
    book.close()
    return out.getvalue()


# ----------------------------------------------------------------- the branch register


def _kind_help() -> str:
    return "从下拉列表选择:" + "、".join(LABELS["branch_kind"].values())


BRANCHES = TableSpec("党支部名册", (
    Column("township", "乡镇", required=True, max_length=50, example="十四道沟镇",
           help="党支部所属乡镇的名称,与系统中的乡镇名称一致。乡镇工作人员只能导入本乡镇。"),
    Column("township_code", "乡镇编码", max_length=20, example="",
           help="只在县委组织部导入一个系统中还没有的乡镇时填写(如行政区划代码),用于新建该乡镇。"),
    Column("name", "党支部名称", required=True, max_length=50, example="望天鹅新村党支部",
           help="党支部全称;同一乡镇内按名称对应已有的党支部,名称相同即更新该党支部。"),
    Column("kind", "类型", "choice", example="农村", choices=LABELS["branch_kind"],
           help=_kind_help() + "。新增时不填按“农村”。"),
    Column("member_count", "党员总数", "int", example="32", help="党员人数(整数)。"),
    Column("members_35_under", "35岁及以下党员", "int", example="3",
           help="35周岁及以下的党员人数;不清楚可留空。"),
    Column("members_36_55", "36至55岁党员", "int", example="12",
           help="36至55周岁的党员人数;各年龄段合计不能超过党员总数。"),
    Column("members_56_over", "56岁及以上党员", "int", example="17",
           help="56周岁及以上的党员人数。"),
    Column("applicants_35_under", "35岁及以下入党申请人", "int", example="2",
           help="35周岁及以下的入党申请人、积极分子人数。"),
    Column("secretary_name", "支部书记", max_length=50, example="张三", help="支部书记姓名。"),
    Column("secretary_birth_year", "书记出生年份", "int", example="1970",
           help="四位数年份,如 1970。"),
    Column("secretary_is_director", "是否一肩挑", "bool", example="是",
           help="书记是否兼任村(居)委会主任:是 / 否。"),
    Column("collective_income_wan", "村集体经济收入(万元)", "decimal", example="8.5",
           help="上年度村集体经济收入,单位万元,可有两位小数。"),
    Column("income_sources", "收入来源", max_length=500, example="林下经济、光伏发电",
           help="集体经济收入的主要来源。"),
    Column("notes", "备注", max_length=2000, example="", help="其他需要说明的情况。"),
))

BRANCH_FIELDS = tuple(c.field for c in BRANCHES.columns
                      if c.field not in ("township", "township_code", "name"))


class ImportErrorItem(BaseModel):
    """One error of an import: the row as the sheet numbers it, the column, the message."""

    row: int
    field: str
    message: str


class ImportResult(BaseModel):
    """What an import did (or, with `dry_run`, would do)."""

    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[ImportErrorItem]
    dry_run: bool
    townships_created: list[str] = []


@dataclass
class PreviewRow:
    """One row as the preview page shows it: what happens to it and its errors."""

    number: int
    township: str
    name: str
    action: Literal["create", "update", "unchanged", "error"]
    changes: list[str] = field(default_factory=list)  # headers of the changed columns
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportOutcome:
    """The result (the API's answer) and the rows for the preview page."""

    result: ImportResult
    preview: list[PreviewRow]


@dataclass
class _Plan:
    row: Row
    township: Township | None
    township_name: str
    branch: Branch | None
    data: dict[str, Any]
    changes: dict[str, Any]


def _may_import(actor: Actor) -> None:
    if actor.is_token:
        if not actor.token_can_write:
            raise Forbidden("该 API 令牌只有读取权限")
        return
    if actor.township_id is None:
        require_county_admin(actor, "导入党支部名册")
    else:
        require_register_write(actor, actor.township_id)


def _may_create_townships(actor: Actor) -> bool:
    try:
        require_county_admin(actor, "新增乡镇", allow_token=True)
    except Forbidden:
        return False
    return True


def _townships(session: Session) -> dict[str, Township]:
    rows = session.scalars(select(Township).where(col(Township.deleted_at).is_(None)))
    return {t.name: t for t in rows}


def _branches(session: Session, township_ids: set[int]) -> dict[tuple[int, str], Branch]:
    if not township_ids:
        return {}
    rows = session.scalars(select(Branch).where(
        col(Branch.township_id).in_(township_ids), col(Branch.deleted_at).is_(None)))
    return {(b.township_id, b.name): b for b in rows}


def _check_row(row: Row, township: Township | None, existing: Branch | None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The full record the row asks for and the fields it changes; errors go on the row."""
    given = {k: v for k, v in row.values.items() if k in BRANCH_FIELDS}
    if existing is not None:
        current = {k: getattr(existing, k) for k in BRANCH_FIELDS}
        merged = {**current, **given}
    else:
        merged = given
    try:
        body = BranchCreate.model_validate({
            **merged, "name": row.values.get("name", ""),
            "township_id": township.id if township is not None and township.id else 0})
    except ValidationError as e:
        named = {x.field for x in row.errors}  # one message per cell: the reader's comes first
        row.errors.extend(x for x in pydantic_errors(BRANCHES, row.number, e)
                          if x.field not in named)
        return {}, {}
    if row.errors:  # a cell already failed: the sums across cells would mislead
        return {}, {}
    try:
        _check_age_bands(body)  # type: ignore[arg-type]  # reads the same fields as a Branch
    except Invalid as e:
        row.errors.append(RowError(row.number, "党员总数", e.detail))
        return {}, {}
    data = {k: getattr(body, k) for k in BRANCH_FIELDS}
    if existing is None:
        return data, data
    changes = {k: v for k, v in data.items() if _differs(getattr(existing, k), v)}
    return data, changes


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal | float) or isinstance(new, Decimal | float):
        if old is None or new is None:
            return old is not new
        return Decimal(str(old)) != Decimal(str(new))
    return bool(old != new)


def import_branches(*, session: Session, actor: Actor, stream: IO[bytes], dry_run: bool,
                    max_rows: int = MAX_ROWS) -> ImportOutcome:
    """Import the branch register from an .xlsx or .csv in the template's columns.

    Rows are matched to branches by township and branch name. Township staff (and tokens
    limited to a township) import their own township only; a county administrator (or a
    county-wide write token) may name a township unknown to the register, which is created
    (its 乡镇编码 needed). With `dry_run`, or when any row has an error, nothing is written
    (the caller's transaction is left untouched); otherwise every created or changed branch
    is written in this transaction, and unchanged branches are not touched (no new
    version, no audit event). Raises Forbidden for roles that may not import and
    FileRejected for a file that cannot be read as the register."""
    _may_import(actor)
    townships = _townships(session)
    own = next((t for t in townships.values() if t.id == actor.township_id), None)
    read = list(read_rows(BRANCHES, stream, max_rows=max_rows))
    new_townships = (_new_townships(read, townships) if _may_create_townships(actor)
                     else {})
    existing = _branches(session, {t.id for t in townships.values() if t.id is not None})
    plans: list[_Plan] = []
    seen: dict[tuple[str, str], int] = {}
    for row in read:
        township_name = row.values.get("township", "")
        name = row.values.get("name", "")
        township = townships.get(township_name) or new_townships.get(township_name)
        if actor.township_id is not None:
            if own is None or township_name != own.name:  # never tell whether it exists
                where = f"({own.name})" if own else ""
                row.errors.append(RowError(row.number, "乡镇",
                                           f"只能导入本乡镇{where}的党支部"))
                township = None
        elif township_name and township is None and not any(
                e.field == "乡镇编码" for e in row.errors):
            row.errors.append(RowError(row.number, "乡镇",
                                       f"系统中没有名为“{township_name}”的乡镇"))
        if township_name and name:
            first = seen.setdefault((township_name, name), row.number)
            if first != row.number:
                row.errors.append(RowError(row.number, "党支部名称",
                                           f"与第{first}行重复(同一乡镇的同名党支部)"))
        branch = existing.get((township.id, name)) if township and township.id else None
        data, changes = _check_row(row, township, branch)
        plans.append(_Plan(row, township, township_name, branch, data, changes))
    return _finish(session, plans, new_townships, dry_run)


def _new_townships(read: list[Row], townships: dict[str, Township]) -> dict[str, Township]:
    """The townships the rows name that the register lacks, to create from their 乡镇编码;
    a row naming one without a usable code gets the error."""
    codes = {t.code: t.name for t in townships.values()}
    out: dict[str, Township] = {}
    for row in read:
        name = row.values.get("township")
        if not name or name in townships:
            continue
        code = row.values.get("township_code")
        if name in out:
            if code and code != out[name].code:
                row.errors.append(RowError(row.number, "乡镇编码",
                                           f"与前面各行给“{name}”填写的编码不一致"))
            continue
        if not code:
            row.errors.append(RowError(row.number, "乡镇编码",
                                       f"系统中没有“{name}”,新建该乡镇需填写乡镇编码"))
            continue
        if code in codes:
            row.errors.append(RowError(row.number, "乡镇编码",
                                       f"编码“{code}”已被“{codes[code]}”使用"))
            continue
        try:
            out[name] = Township.model_validate(TownshipCreate(name=name, code=code))
        except ValidationError as e:
            row.errors.extend(pydantic_errors(BRANCHES, row.number, e,
                                              {"name": "乡镇", "code": "乡镇编码"}))
            continue
        codes[code] = name
    return out


def _finish(session: Session, plans: list[_Plan], new_townships: dict[str, Township],
            dry_run: bool) -> ImportOutcome:
    errors = [e for p in plans for e in p.row.errors]
    created = sum(1 for p in plans if p.branch is None and not p.row.errors)
    updated = sum(1 for p in plans if p.branch is not None and p.changes and not p.row.errors)
    unchanged = sum(1 for p in plans if p.branch is not None and not p.changes
                    and not p.row.errors)
    listed = [ImportErrorItem(row=e.row, field=e.field, message=e.message)
              for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        listed.append(ImportErrorItem(row=errors[MAX_ERRORS].row, field="",
                                   message=f"另有{len(errors) - MAX_ERRORS}处错误未列出"))
    used = sorted({p.township_name for p in plans if p.township_name in new_townships})
    result = ImportResult(rows=len(plans), created=created, updated=updated,
                          unchanged=unchanged, errors=listed, dry_run=dry_run,
                          townships_created=used)
    preview = [_preview(p) for p in plans]
    if dry_run or errors:
        return ImportOutcome(result, preview)
    for name in used:
        session.add(new_townships[name])
    session.flush()
    for i, p in enumerate(plans, start=1):
        if i % FLUSH_EVERY == 0:
            session.flush()
        if p.branch is None:
            assert p.township is not None and p.township.id is not None
            session.add(Branch(**p.data, name=p.row.values["name"], township_id=p.township.id))
        elif p.changes:
            for key, value in p.changes.items():
                setattr(p.branch, key, value)
            session.add(p.branch)
    session.flush()
    return ImportOutcome(result, preview)


def _preview(p: _Plan) -> PreviewRow:
    headers = {c.field: c.header for c in BRANCHES.columns}
    action: Literal["create", "update", "unchanged", "error"]
    if p.row.errors:
        action = "error"
    elif p.branch is None:
        action = "create"
    else:
        action = "update" if p.changes else "unchanged"
    return PreviewRow(p.row.number, p.township_name, str(p.row.values.get("name", "")), action,
                      [headers[k] for k in p.changes] if action == "update" else [],
                      p.row.errors)
