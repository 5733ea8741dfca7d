"""Evidence files: type decided by content, size limited, stored under a generated name."""

import hashlib
import os
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.services.errors import DomainError, Invalid

CHUNK = 1024 * 1024

# content type: (extension for downloads, Chinese name) — what counts as evidence
ALLOWED = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
}
ALLOWED_TEXT = "照片(JPEG/PNG/WebP/HEIC)、PDF、Word、Excel"


class TooLarge(DomainError):
    status = 413
    title = "文件过大"


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    file_name: str
    content_type: str
    size: int
    sha256: str


def sniff(head: bytes, path: Path) -> str | None:
    """The content type by the file's own bytes, or None when it is not an accepted kind."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # OLE compound file: Word 97 or Excel 97; the stream names tell which
        with open(path, "rb") as f:
            body = f.read(CHUNK)
        if "Workbook".encode("utf-16-le") in body or "Book".encode("utf-16-le") in body:
            return "application/vnd.ms-excel"
        if "WordDocument".encode("utf-16-le") in body:
            return "application/msword"
        return None
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        if "word/document.xml" in names:
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        if "xl/workbook.xml" in names:
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return None


def clean_file_name(name: str | None, content_type: str) -> str:
    """A display name without folders, control characters or path tricks."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base)
                   if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"^[.\s]+", "", base).strip()[:150]
    if not base:
        base = "佐证材料" + ALLOWED[content_type]
    return base


def store_upload(
    source: BinaryIO, *, original_name: str | None, upload_dir: Path, max_bytes: int,
    field: str = "files",
) -> StoredFile:
    """Copy an upload into storage, hashing and measuring it; refuse what is too big or not
    an accepted type. The stored name is random; the user's name is kept only as text."""
    key = secrets.token_hex(16)
    folder = upload_dir / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / key
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"文件“{clean_file_name(original_name, 'application/pdf')}”超过 "
                        f"{max_bytes // (1024 * 1024)} MB 的上限"
                    )
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise Invalid(field, "文件是空的")
        content_type = sniff(head, target)
        if content_type is None:
            raise Invalid(field, f"不支持的文件类型(按文件内容判断)。可上传:{ALLOWED_TEXT}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StoredFile(
        storage_key=f"{key[:2]}/{key}", file_name=clean_file_name(original_name, content_type),
        content_type=content_type, size=size, sha256=digest.hexdigest(),
    )


def file_path(upload_dir: Path, storage_key: str) -> Path:
    path = (upload_dir / storage_key).resolve()
    if not str(path).startswith(str(upload_dir.resolve()) + os.sep):
        raise Invalid("storage_key", "存储路径无效")
    return path
