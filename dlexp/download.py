"""Downloading files from the first mirror that answers, each checked against its MD5.

A file is streamed into a temporary file beside its target and renamed into place only when its
MD5 matches, so a failed or corrupt download never leaves a file that looks complete; the
folders a failed download created are removed again. The progress bar appears only once a
mirror answers, so an offline attempt prints none.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

TIMEOUT_S = 10
CHUNK_BYTES = 1 << 16
NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)


class DownloadError(Exception):
    """A download that did not happen; str() says why."""


class Unreachable(DownloadError):
    """No mirror answered."""


class Unwritable(DownloadError):
    """The target folder cannot be created."""


class Corrupt(DownloadError):
    """A mirror answered with a file whose MD5 is not the published one (it was deleted)."""


def download(
    folder: Path, files: Mapping[str, str], mirrors: Sequence[str], progress: bool
) -> None:
    """Fetch each file of `files` (name → MD5) that `folder` lacks from the first mirror that
    answers, with an optional progress bar."""
    created = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Unwritable(
            f"the download folder {folder} cannot be created ({error.strerror})"
        ) from None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    try:
        with Progress(*columns, TransferSpeedColumn(), disable=not progress) as bar:
            for name, md5 in files.items():
                if not (folder / name).is_file():
                    fetch_first(folder / name, md5, mirrors, bar)
    except BaseException:
        for empty in created:  # innermost first
            with contextlib.suppress(OSError):
                empty.rmdir()
        raise


def fetch_first(target: Path, md5: str, mirrors: Sequence[str], bar: Progress) -> None:
    """Fetch target from the first mirror that answers; Unreachable if none does."""
    for mirror in mirrors:
        try:
            fetch(mirror + target.name, target, md5, bar)
            return
        except NETWORK_ERRORS as error:
            reason = error
    raise Unreachable(f"could not be downloaded from {' or '.join(mirrors)} ({reason})")


def fetch(url: str, target: Path, md5: str, bar: Progress) -> None:
    """Stream url into a temp file beside target, check its MD5, then rename it to target."""
    digest = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:
        length = reply.headers.get("Content-Length")
        task = bar.add_task(target.name, total=int(length) if length else None)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                while chunk := reply.read(CHUNK_BYTES):
                    file.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
            if digest.hexdigest() != md5:
                raise Corrupt(
                    f"The download of {url} is corrupt (MD5 {digest.hexdigest()} instead of "
                    f"{md5}) and was deleted; run again, or fetch the file yourself into "
                    f"{target.parent}."
                )
            os.replace(temp, target)
        finally:
            Path(temp).unlink(missing_ok=True)
