"""Evidence files: type decided by content, size limited, stored under a generated name.

Photos are stored without their location: the EXIF GPS block and any XMP packet (which can
repeat it) are cut out of JPEG, PNG and WebP files without re-encoding the picture, so the
stored file is the photo as taken, less where it was taken. The recorded sha256 (the
duplicate-evidence check, the download's ETag) is of the bytes as stored, after that cut:
it is the hash of the file anyone can download and check, and the cut is deterministic, so
the same photo sent twice (from a desktop, or shrunk the same way on a phone) still gives
the same hash. Timelines show thumbnails, made once on first request and kept on disk.
"""

import hashlib
import io
import os
import re
import secrets
import struct
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

from app.services.errors import DomainError, Invalid

CHUNK = 1024 * 1024
THUMB_SIDE = 480  # px, longest side: sharp on a phone's timeline at 2x, ~30 KB
THUMB_MAX_PIXELS = 60_000_000  # larger pictures are not decoded for a thumbnail
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"

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
    """Copy an upload into storage, hashing and measuring it; refuse what is too big
    (TooLarge, 413) or not an accepted type (Invalid on `field`). A photo loses its location
    (see the module's docstring); size and sha256 are of the bytes as stored. The stored name
    is random; the user's name is kept only as text."""
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
        sha256 = digest.hexdigest()
        stripped = strip_location(target.read_bytes(), content_type) \
            if content_type in STRIPPERS else None
        if stripped is not None:
            target.write_bytes(stripped)
            size, sha256 = len(stripped), hashlib.sha256(stripped).hexdigest()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StoredFile(
        storage_key=f"{key[:2]}/{key}", file_name=clean_file_name(original_name, content_type),
        content_type=content_type, size=size, sha256=sha256,
    )


# ---------------------------------------------------------------- location data


def _exif_without_gps(exif_bytes: bytes) -> bytes | None:
    """The EXIF block (starting `Exif\\0\\0`) less its GPS directory; None when it has none.
    A block Pillow cannot read is dropped whole (it may hold a location we cannot see)."""
    exif = Image.Exif()
    try:
        exif.load(exif_bytes)
        if GPS_IFD not in exif:
            return None
        exif.get_ifd(EXIF_IFD)  # loaded, so it is written back
        del exif[GPS_IFD]
        return exif.tobytes()
    except Exception:
        return b""


def _strip_jpeg(data: bytes) -> bytes | None:
    out = bytearray(data[:2])
    pos, changed = 2, False
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or 0xD0 <= marker <= 0xD9:  # start of scan: the picture follows
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos:pos + 2 + length]
        body = segment[4:]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            kept = _exif_without_gps(body)
            if kept is not None:
                changed = True
                if kept and len(kept) + 2 <= 0xFFFF:
                    segment = b"\xff\xe1" + struct.pack(">H", len(kept) + 2) + kept
                else:
                    segment = b""
        elif marker == 0xE1 and body.startswith(XMP_JPEG):
            changed, segment = True, b""
        out += segment
        pos += 2 + length
    if not changed:
        return None
    return bytes(out + data[pos:])


def _strip_png(data: bytes) -> bytes | None:
    out = bytearray(data[:8])
    pos, changed = 8, False
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if kind in (b"eXIf", b"tEXt", b"iTXt", b"zTXt"):
            changed = True
        else:
            out += data[pos:end]
        pos = end
    return bytes(out) if changed else None


def _strip_webp(data: bytes) -> bytes | None:
    chunks = bytearray()
    pos, changed = 12, False
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        length = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + length + (length & 1)
        chunk = bytearray(data[pos:end])
        if kind in (b"EXIF", b"XMP "):
            changed = True
            chunk = bytearray()
        elif kind == b"VP8X" and len(chunk) > 8:
            chunk[8] &= ~(0x08 | 0x04) & 0xFF  # the EXIF and XMP flags
        chunks += chunk
        pos = end
    if not changed:
        return None
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WEBP" + bytes(chunks)


STRIPPERS = {"image/jpeg": _strip_jpeg, "image/png": _strip_png, "image/webp": _strip_webp}


def strip_location(data: bytes, content_type: str) -> bytes | None:
    """The photo's bytes without EXIF GPS and XMP, the picture itself untouched; None when
    there was nothing to remove (or the type is not a photo kind handled here)."""
    stripper = STRIPPERS.get(content_type)
    return stripper(data) if stripper else None


# ---------------------------------------------------------------- thumbnails


def thumbnail_path(upload_dir: Path, storage_key: str) -> Path:
    """Where the thumbnail of a stored photo is kept (it may not exist yet)."""
    return file_path(upload_dir, f"thumbs/{storage_key}.jpg")


def ensure_thumbnail(upload_dir: Path, storage_key: str, content_type: str) -> Path | None:
    """The path of the photo's thumbnail (JPEG, longest side THUMB_SIDE, turned upright),
    made now if it does not exist yet; None when the file is not a picture Pillow can read
    (the caller then serves the file itself)."""
    if not content_type.startswith("image/"):
        return None
    target = thumbnail_path(upload_dir, storage_key)
    if target.exists():
        return target
    try:
        with Image.open(file_path(upload_dir, storage_key)) as img:
            if img.width * img.height > THUMB_MAX_PIXELS:
                return None
            img.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))  # JPEG: decode at a fraction
            upright = ImageOps.exif_transpose(img)
            small = upright.convert("RGB")
            small.thumbnail((THUMB_SIDE, THUMB_SIDE))
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=72, optimize=True, progressive=True)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{secrets.token_hex(4)}.part")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, target)  # two first requests at once: the last whole file wins
    return target


def file_path(upload_dir: Path, storage_key: str) -> Path:
    path = (upload_dir / storage_key).resolve()
    if not str(path).startswith(str(upload_dir.resolve()) + os.sep):
        raise Invalid("storage_key", "存储路径无效")
    return path
