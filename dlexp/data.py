"""MNIST in Nielsen's 50,000 / 10,000 / 10,000 split (the splits themselves, and a synthetic
data set for tests, are in `dlexp.splits`).

MNIST is read from the four standard IDX files (gzipped or raw), either directly in a folder or
under ``MNIST/raw/`` (torchvision's layout). A folder given explicitly (``--data-dir``) is the only
place looked at; otherwise the first of ``$DLEXP_DATA_DIR`` and the user cache directory that holds
all four is used, and when none does, the files are downloaded into ``<user cache>/MNIST/raw/``.
Parsed files are cached in the user cache directory so that later loads take a fraction of a
second.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import math
import os
import pickle
import struct
import tempfile
import zlib
from pathlib import Path

import torch

from dlexp.download import CHUNK_BYTES, Corrupt, DownloadError, download
from dlexp.errors import DataError as DataError
from dlexp.splits import MNIST, PIXEL_MAX, Split
from dlexp.splits import synthetic_classification as synthetic_classification

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

_HOW_TO_FIX = (
    "put the four MNIST files in one of these folders or point --data-dir / DLEXP_DATA_DIR "
    "at a folder holding them"
)

Fingerprint = tuple[tuple[str, int, int], ...]


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
    """Folders searched for MNIST: data_dir alone when given, else $DLEXP_DATA_DIR and the user
    cache dir, in that order."""
    candidates = (data_dir,) if data_dir else (os.environ.get("DLEXP_DATA_DIR"), _user_cache_dir())
    return list(dict.fromkeys(Path(c).expanduser().resolve() for c in candidates if c))


def load_mnist(
    data_dir: Path | None = None, *, download: bool = True, progress: bool = True
) -> MNIST:
    """Load MNIST from `data_dir`, or from the first search folder holding it, downloading it if
    none does (never when `data_dir` is given).

    Raises DataError when the files are missing and cannot be downloaded, or are corrupt.
    """
    return load_files(locate_mnist(data_dir, download=download, progress=progress))


def load_files(files: dict[str, Path]) -> MNIST:
    """MNIST from the four files `locate_mnist` found, parsed once per process."""
    return _load_files(_fingerprint(files))


def locate_mnist(
    data_dir: Path | None = None, *, download: bool = True, progress: bool = True
) -> dict[str, Path]:
    """The four MNIST files (see `load_mnist`); DataError naming what is missing and where."""
    folders = mnist_search_dirs(data_dir)
    files = next(filter(None, map(_find_files, folders)), None)
    if files is not None:
        return files
    if data_dir and not folders[0].is_dir():
        raise DataError(
            f"--data-dir {folders[0]} is not a folder; point it at the folder holding the four "
            f"MNIST files, or leave --data-dir out to use DLEXP_DATA_DIR or the download."
        )
    if data_dir:
        raise DataError(
            f"--data-dir {folders[0]} is the only place looked at and it lacks "
            f"{_missing(folders[0])} (directly or under {_RAW_SUBDIR}/); put the four MNIST files "
            f"there, or leave --data-dir out to use DLEXP_DATA_DIR or the download."
        )
    if not download:
        raise DataError(
            f"MNIST was not found in {_describe(folders)}: {_missing(folders[0])} is missing and "
            f"downloading is turned off; {_HOW_TO_FIX}."
        )
    return _download(_user_cache_dir() / _RAW_SUBDIR, folders, progress)


def mnist_provenance(files: dict[str, Path]) -> dict[str, object]:
    """The folder the MNIST files were read from and each file's SHA-256, for run.json."""
    resolved = {stem: files[stem].resolve() for stem in _MD5}
    folder = resolved[_TRAIN_IMAGES].parent
    return {
        "folder": str(folder),
        "sha256": {path.name: _sha256(path) for path in resolved.values()},
    }


@functools.cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


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


def _missing(folder: Path) -> str:
    """The MNIST files `folder` lacks, named (the layout holding more of them is the one meant)."""
    layouts = [folder, folder / _RAW_SUBDIR]
    missing = min(
        (
            [stem for stem in _MD5 if not any((place / n).is_file() for n in (stem, f"{stem}.gz"))]
            for place in layouts
        ),
        key=len,
    )
    return (
        ", ".join(f"{stem}(.gz)" for stem in missing)
        or "no file (they are split over both layouts)"
    )


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
        validation=official_train[_TRAIN_SIZE:],
        test=_to_split(tensors[_TEST_IMAGES], tensors[_TEST_LABELS]),
    )


def _to_split(images: torch.Tensor, labels: torch.Tensor) -> Split:
    pixels = images.reshape(len(images), -1)
    return Split(pixels.float().div_(PIXEL_MAX), labels.long(), pixels)


def _download(folder: Path, searched: list[Path], progress: bool) -> dict[str, Path]:
    """Download the archives into folder (see `dlexp.download`)."""
    archives = {f"{stem}.gz": md5 for stem, md5 in _MD5.items()}
    try:
        download(folder, archives, _MIRRORS, progress)
    except Corrupt as error:
        raise DataError(str(error)) from None
    except DownloadError as error:
        raise DataError(
            f"MNIST was not found in {_describe(searched)} and {error}; {_HOW_TO_FIX}."
        ) from None
    return {stem: folder / f"{stem}.gz" for stem in _MD5}
