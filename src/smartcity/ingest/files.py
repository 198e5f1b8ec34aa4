"""Keeping submitted files: streamed to disk while hashed and counted, stored once per content (by SHA-256).

A batch keeps its file so that it can be re-run after an interruption and so that its provenance (the file
hash on every row) can be checked against the original. Uploads are never held in memory whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from smartcity.config import get_settings
from smartcity.platform.errors import PayloadTooLarge
from smartcity.platform.i18n import N_

COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A file in the store: where (relative to the data folder), its SHA-256 and size, and the name it came with."""

    relative_path: str
    sha256: str
    size: int
    filename: str

    @property
    def path(self) -> Path:
        return data_root() / self.relative_path


def data_root() -> Path:
    """The platform's data folder (SMARTCITY_DATA_DIR)."""
    return Path(get_settings().data_dir)


def safe_filename(name: str | None) -> str:
    """The last part of a client-supplied file name, without control characters, at most 200 characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:200] or "upload"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        N_(
            "The file is larger than the limit of {limit} MB for one batch; split it into several batches or "
            "let the hub pull the data from the department's database."
        ),
        field="file",
        limit=limit // (1024 * 1024),
    )


class _Sink:
    """A file on its way into the store: written to a partial file while hashed and counted.

    Leaving the `with` block closes it, and removes it if the block failed; `stored` then files it under its hash.
    """

    def __init__(self) -> None:
        self.limit = get_settings().ingest_max_file_bytes
        self.folder = data_root() / "ingest" / "files"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.partial = self.folder / f".incoming-{uuid.uuid4().hex}"
        self.digest = hashlib.sha256()
        self.size = 0

    def __enter__(self) -> _Sink:
        self.handle = self.partial.open("wb")
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.handle.close()
        if kind is not None:
            self.partial.unlink(missing_ok=True)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.digest.update(chunk)
        self.handle.write(chunk)

    def stored(self, filename: str) -> StoredFile:
        digest = self.digest.hexdigest()
        final = self.folder / digest
        if final.exists():
            self.partial.unlink()
        else:
            os.replace(self.partial, final)
        return StoredFile(f"ingest/files/{digest}", digest, self.size, safe_filename(filename))


def check_declared_size(declared: str | None) -> None:
    """Refuse an upload whose Content-Length already exceeds the limit, before reading it."""
    limit = get_settings().ingest_max_file_bytes
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


async def store_stream(chunks: AsyncIterator[bytes], filename: str) -> StoredFile:
    """Store an uploaded body as it arrives; PayloadTooLarge as soon as it passes the limit."""
    with _Sink() as sink:
        async for chunk in chunks:
            sink.write(chunk)
    return sink.stored(filename)


def store_chunks(chunks: Iterator[bytes], filename: str) -> StoredFile:
    """Store a body read synchronously (the CLI and pulls)."""
    with _Sink() as sink:
        for chunk in chunks:
            sink.write(chunk)
    return sink.stored(filename)


def store_local(path: Path) -> StoredFile:
    """Store a copy of a local file (the CLI)."""
    with path.open("rb") as handle:
        return store_chunks(iter(lambda: handle.read(COPY_CHUNK), b""), path.name)


def work_folder() -> Path:
    """A scratch folder for transcoded copies and extracts, removed by the caller."""
    folder = data_root() / "ingest" / "work" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
