"""MNIST in Nielsen's 50,000 / 10,000 / 10,000 split, and a synthetic data set for tests.

MNIST is read from the four standard IDX files (gzipped or raw), found in the first of
``--data-dir``, ``$DLEXP_DATA_DIR`` and the user cache directory that holds all four, either
directly or under ``MNIST/raw/`` (torchvision's layout). When none does, the files are downloaded
into ``<user cache>/MNIST/raw/``. Parsed files are cached in the user cache directory so that
later loads take a fraction of a second.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.client
import math
import os
import pickle
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

_TRAIN_IMAGES = "train-images-idx3-ubyte"
_TRAIN_LABELS = "train-labels-idx1-ubyte"
_TEST_IMAGES = "t10k-images-idx3-ubyte"
_TEST_LABELS = "t10k-labels-idx1-ubyte"

# Published MD5 of each gzipped archive on the mirrors.
_MD5 = {
    _TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    _TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
    _TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
    _TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
}
_SHAPES = {
    _TRAIN_IMAGES: (60_000, 28, 28),
    _TRAIN_LABELS: (60_000,),
    _TEST_IMAGES: (10_000, 28, 28),
    _TEST_LABELS: (10_000,),
}
_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_RAW_SUBDIR = Path("MNIST", "raw")
_TRAIN_SIZE = 50_000  # the rest of the official training set is the validation set
_N_CLASSES = 10

_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_IMAGE_SIDE = 28

_TIMEOUT_S = 10
_CHUNK_BYTES = 1 << 16
_NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)
_HOW_TO_FIX = (
    "put the four MNIST files in one of these folders or point --data-dir / DLEXP_DATA_DIR "
    "at a folder holding them"
)

Fingerprint = tuple[tuple[str, int, int], ...]


class DataError(Exception):
    """A problem with the data that the user can fix; str(error) is one sentence saying how."""


@dataclass(frozen=True, eq=False)
class Split:
    """Examples of one split: images float32 [n, 784] in [0, 1] and labels int64 [n]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int) -> Split:
        """The first n examples."""
        if not 0 <= n <= len(self):
            raise ValueError(f"cannot take {n} examples from a split of {len(self)}")
        return Split(self.images[:n], self.labels[:n])

    def to(self, device: torch.device | str) -> Split:
        """This split with its tensors on device."""
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True, eq=False)
class MNIST:
    """MNIST split as in Nielsen's book: 50,000 train, 10,000 validation, 10,000 test."""

    train: Split
    validation: Split
    test: Split

    def to(self, device: torch.device | str) -> MNIST:
        """This data set with all splits on device."""
        return MNIST(self.train.to(device), self.validation.to(device), self.test.to(device))


def read_idx(path: Path) -> torch.Tensor:
    """Read an MNIST IDX file (gzipped when its name ends in .gz) as a uint8 tensor.

    Returns shape [n, 28, 28] for an image file and [n] for a label file. Raises DataError
    naming the file when it cannot be read, decompressed or is not a well-formed MNIST file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise _corrupt(path, f"it is only {len(data)} bytes long, too short for an IDX header")
    magic, count = struct.unpack_from(">II", data)
    if magic == _LABELS_MAGIC:
        header_bytes, shape = 8, (count,)
    elif magic == _IMAGES_MAGIC:
        if len(data) < 16:
            raise _corrupt(path, f"it is only {len(data)} bytes long, too short for its header")
        rows, cols = struct.unpack_from(">II", data, 8)
        if (rows, cols) != (_IMAGE_SIDE, _IMAGE_SIDE):
            raise _corrupt(path, f"its images are {rows}×{cols} pixels instead of 28×28")
        header_bytes, shape = 16, (count, rows, cols)
    else:
        raise _corrupt(
            path,
            f"its magic number is {magic:#010x} instead of {_IMAGES_MAGIC:#010x} (images) "
            f"or {_LABELS_MAGIC:#010x} (labels)",
        )
    expected = header_bytes + math.prod(shape)
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "padded"
        raise _corrupt(path, f"it is {problem} ({len(data):,} bytes instead of {expected:,})")
    return torch.frombuffer(data, dtype=torch.uint8)[header_bytes:].reshape(shape)


def mnist_search_dirs(data_dir: Path | None = None) -> list[Path]:
    """Folders searched for MNIST, in order: data_dir, $DLEXP_DATA_DIR, the user cache dir."""
    candidates = (data_dir, os.environ.get("DLEXP_DATA_DIR"), _user_cache_dir())
    return list(dict.fromkeys(Path(c).expanduser().resolve() for c in candidates if c))


def load_mnist(
    data_dir: Path | None = None, *, download: bool = True, progress: bool = True
) -> MNIST:
    """Load MNIST from the first search folder holding it, downloading it if none does.

    Raises DataError when the files are missing and cannot be downloaded, or are corrupt.
    """
    folders = mnist_search_dirs(data_dir)
    files = next(filter(None, map(_find_files, folders)), None)
    if files is None:
        if not download:
            raise DataError(
                f"MNIST was not found in {_describe(folders)} and downloading is turned off; "
                f"{_HOW_TO_FIX}."
            )
        files = _download(_user_cache_dir() / _RAW_SUBDIR, folders, progress)
    return _load_files(_fingerprint(files))


def synthetic_classification(
    n: int, n_features: int = 784, n_classes: int = 10, *, seed: int = 0
) -> Split:
    """A small deterministic learnable data set shaped like MNIST, for unit tests.

    Each class has a Gaussian mean per feature; examples are the class mean plus unit
    Gaussian noise, squashed into [0, 1] by a sigmoid.
    """
    generator = torch.Generator().manual_seed(seed)
    class_means = 2 * torch.randn(n_classes, n_features, generator=generator)
    labels = torch.randint(n_classes, (n,), generator=generator)
    noise = torch.randn(n, n_features, generator=generator)
    return Split(torch.sigmoid(class_means[labels] + noise), labels)


def _user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dlexp"


def _describe(folders: list[Path]) -> str:
    return ", ".join(str(folder) for folder in folders) + f" (directly or under {_RAW_SUBDIR}/)"


def _corrupt(path: Path, problem: str) -> DataError:
    return DataError(f"{path} is not a valid MNIST file: {problem}; replace it with a good copy.")


def _read_bytes(path: Path) -> bytearray:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(
            f"Could not read {path} ({error}); check that it exists and is readable."
        ) from None
    if path.suffix != ".gz":
        return bytearray(data)
    try:
        return bytearray(gzip.decompress(data))
    except (OSError, EOFError, zlib.error) as error:
        raise _corrupt(path, f"it does not decompress as gzip ({error})") from None


def _find_files(folder: Path) -> dict[str, Path] | None:
    """The four MNIST files, all directly in folder or all under folder/MNIST/raw, if present."""
    for location in (folder, folder / _RAW_SUBDIR):
        files = {}
        for stem in _MD5:
            names = (f"{stem}.gz", stem)
            files[stem] = next((location / n for n in names if (location / n).is_file()), None)
        if None not in files.values():
            return files
    return None


def _fingerprint(files: dict[str, Path]) -> Fingerprint:
    """Resolved path, size and mtime of each file, so that changed sources give a new key."""
    resolved = [files[stem].resolve() for stem in _MD5]
    return tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in resolved)


@functools.cache
def _load_files(fingerprint: Fingerprint) -> MNIST:
    """Parse the files (or reuse their parsed cache) and split them; memoised per process."""
    cache_file = _user_cache_dir() / f"mnist-{_cache_key(fingerprint)}.pt"
    tensors = _read_cache(cache_file)
    if tensors is None:
        paths = {stem: Path(path) for stem, (path, _, _) in zip(_MD5, fingerprint, strict=True)}
        tensors = _parse(paths)
        _write_cache(cache_file, tensors)
    return _to_mnist(tensors)


def _cache_key(fingerprint: Fingerprint) -> str:
    return hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]


def _parse(paths: dict[str, Path]) -> dict[str, torch.Tensor]:
    """Read the four files and check they hold MNIST's shapes and label range."""
    tensors = {stem: read_idx(path) for stem, path in paths.items()}
    for stem, tensor in tensors.items():
        _check_shape(paths[stem], tensor, _SHAPES[stem])
    for stem in (_TRAIN_LABELS, _TEST_LABELS):
        largest = int(tensors[stem].max())
        if largest >= _N_CLASSES:
            raise _corrupt(paths[stem], f"it holds label {largest}, outside 0-9")
    return tensors


def _check_shape(path: Path, tensor: torch.Tensor, expected: tuple[int, ...]) -> None:
    expected_kind = "images" if len(expected) == 3 else "labels"
    if tensor.dim() != len(expected):
        raise _corrupt(path, f"it holds the wrong kind of data where {expected_kind} belong")
    if tensor.shape != expected:
        raise _corrupt(path, f"it holds {len(tensor):,} {expected_kind} instead of {expected[0]:,}")


def _read_cache(path: Path) -> dict[str, torch.Tensor] | None:
    """The cached uint8 tensors, or None when the cache is missing or unusable."""
    try:
        tensors = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None
    usable = (
        isinstance(tensors, dict)
        and tensors.keys() == _SHAPES.keys()
        and all(t.dtype == torch.uint8 and t.shape == _SHAPES[k] for k, t in tensors.items())
    )
    return tensors if usable else None


def _write_cache(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Save tensors atomically to path; skip silently when the cache dir is not writable."""
    with contextlib.suppress(OSError, RuntimeError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                torch.save(tensors, file)
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)


def _to_mnist(tensors: dict[str, torch.Tensor]) -> MNIST:
    official_train = _to_split(tensors[_TRAIN_IMAGES], tensors[_TRAIN_LABELS])
    return MNIST(
        train=official_train.subset(_TRAIN_SIZE),
        validation=Split(official_train.images[_TRAIN_SIZE:], official_train.labels[_TRAIN_SIZE:]),
        test=_to_split(tensors[_TEST_IMAGES], tensors[_TEST_LABELS]),
    )


def _to_split(images: torch.Tensor, labels: torch.Tensor) -> Split:
    return Split(images.reshape(len(images), -1).float().div_(255), labels.long())


def _download(folder: Path, searched: list[Path], progress: bool) -> dict[str, Path]:
    """Download the archives missing from folder, with an optional progress bar."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"MNIST was not found in {_describe(searched)} and the download folder {folder} cannot "
            f"be created ({error.strerror}); {_HOW_TO_FIX}."
        ) from None
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TransferSpeedColumn(), disable=not progress) as bar:
        for stem, md5 in _MD5.items():
            target = folder / f"{stem}.gz"
            if not target.is_file():
                _download_archive(target, md5, bar, searched)
    return {stem: folder / f"{stem}.gz" for stem in _MD5}


def _download_archive(target: Path, md5: str, bar: Progress, searched: list[Path]) -> None:
    """Fetch target from the first mirror that answers; DataError if none does."""
    task = bar.add_task(target.name, total=None)
    for mirror in _MIRRORS:
        try:
            _fetch(mirror + target.name, target, md5, bar, task)
            return
        except _NETWORK_ERRORS as error:
            reason = error
    raise DataError(
        f"MNIST was not found in {_describe(searched)} and could not be downloaded from "
        f"{' or '.join(_MIRRORS)} ({reason}); {_HOW_TO_FIX}."
    )


def _fetch(url: str, target: Path, md5: str, bar: Progress, task: int) -> None:
    """Stream url into a temp file beside target, check its MD5, then rename it to target."""
    digest = hashlib.md5(usedforsecurity=False)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as reply:
            length = reply.headers.get("Content-Length")
            bar.reset(task, total=int(length) if length else None)
            while chunk := reply.read(_CHUNK_BYTES):
                file.write(chunk)
                digest.update(chunk)
                bar.advance(task, len(chunk))
        if digest.hexdigest() != md5:
            raise DataError(
                f"The download of {url} is corrupt (MD5 {digest.hexdigest()} instead of {md5}) "
                f"and was deleted; run again, or fetch the file yourself into {target.parent}."
            )
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)
