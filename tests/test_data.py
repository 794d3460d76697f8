"""Tests for dlexp.data: IDX parsing, finding, downloading and caching MNIST, synthetic data."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from dlexp import data
from dlexp.data import (
    MNIST,
    DataError,
    Split,
    load_mnist,
    mnist_search_dirs,
    read_idx,
    synthetic_classification,
)

REAL_DATA_DIR = os.environ.get("DLEXP_DATA_DIR")
FIRST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
SECOND_MIRROR = "http://yann.lecun.com/exdb/mnist/"
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
STEMS = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
# Fake MNIST sets are shrunk to these sizes (see the fake_mnist fixture) to keep tests fast.
SMALL_COUNTS = {TRAIN_IMAGES: 600, TRAIN_LABELS: 600, TEST_IMAGES: 100, TEST_LABELS: 100}
SMALL_TRAIN_SIZE = 500


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Use a user cache under tmp_path, hide DLEXP_DATA_DIR and start with an empty memo."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DLEXP_DATA_DIR", raising=False)
    data._load_files.cache_clear()
    yield
    data._load_files.cache_clear()


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "dlexp"


def idx_bytes(array: torch.Tensor) -> bytes:
    """array (uint8, 1 or 3 dims) encoded as an IDX file."""
    magic = 0x803 if array.dim() == 3 else 0x801
    header = struct.pack(f">{array.dim() + 1}I", magic, *array.shape)
    return header + array.to(torch.uint8).numpy().tobytes()


def write_bytes(path: Path, payload: bytes) -> Path:
    """Write payload to path, gzipped when the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, compresslevel=1) if path.suffix == ".gz" else payload)
    return path


def fake_images(n: int) -> torch.Tensor:
    """n images whose first pixel is the index mod 256 and last pixel is 255."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(n) % 256
    images[:, 27, 27] = 255
    return images


def fake_contents(stem: str, label: int) -> torch.Tensor:
    """The contents of a small fake MNIST file: fake images, or labels all equal to label."""
    count = SMALL_COUNTS[stem]
    if stem in (TRAIN_IMAGES, TEST_IMAGES):
        return fake_images(count)
    return torch.full((count,), label, dtype=torch.uint8)


@pytest.fixture
def fake_mnist(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make dlexp.data expect the small fake sizes; return a writer of fake MNIST folders.

    The writer, called as make(folder, label, suffix=""), writes the four files named with
    suffix into folder, every label equal to label, and returns folder.
    """
    for stem, count in SMALL_COUNTS.items():
        monkeypatch.setitem(data._SHAPES, stem, (count, *data._SHAPES[stem][1:]))
    monkeypatch.setattr(data, "_TRAIN_SIZE", SMALL_TRAIN_SIZE)

    def make(folder: Path, label: int, suffix: str = "") -> Path:
        for stem in STEMS:
            write_bytes(folder / f"{stem}{suffix}", idx_bytes(fake_contents(stem, label)))
        return folder

    return make


class FakeReply(io.BytesIO):
    """Stands in for the response urlopen returns."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def serve(monkeypatch: pytest.MonkeyPatch, payloads: dict[str, bytes]) -> list[str]:
    """Make urlopen answer the urls in payloads and fail as if offline for any other url.

    Returns the list of requested urls, filled as requests arrive.
    """
    requested = []

    def fake_urlopen(url: str, timeout: float) -> FakeReply:
        requested.append(url)
        if url not in payloads:
            raise urllib.error.URLError("no network")
        return FakeReply(payloads[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return requested


# --- read_idx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trips_images_and_labels(tmp_path: Path, suffix: str) -> None:
    images = torch.randint(256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 0, 9, 9, 1], dtype=torch.uint8)
    images_path = write_bytes(tmp_path / f"images{suffix}", idx_bytes(images))
    labels_path = write_bytes(tmp_path / f"labels{suffix}", idx_bytes(labels))

    read_images, read_labels = read_idx(images_path), read_idx(labels_path)

    assert read_images.dtype == torch.uint8 and read_images.shape == (5, 28, 28)
    assert torch.equal(read_images, images)
    assert read_labels.dtype == torch.uint8 and read_labels.tolist() == [3, 0, 9, 9, 1]


IMAGES = idx_bytes(fake_images(3))
LABELS = idx_bytes(torch.tensor([1, 2, 3], dtype=torch.uint8))


@pytest.mark.parametrize(
    ("name", "payload", "problem"),
    [
        ("images", IMAGES[:-1], "truncated (2,367 bytes instead of 2,368)"),
        ("labels.gz", LABELS[:-1], "truncated (10 bytes instead of 11)"),
        ("images", IMAGES + b"\0", "padded (2,369 bytes instead of 2,368)"),
        ("labels", struct.pack(">I", 0x802) + LABELS[4:], "magic number is 0x00000802"),
        ("images", idx_bytes(torch.zeros(2, 32, 32, dtype=torch.uint8)), "32×32"),
        ("labels", LABELS[:5], "too short"),
        ("images", IMAGES[:12], "too short"),
    ],
)
def test_read_idx_rejects_malformed_files(
    tmp_path: Path, name: str, payload: bytes, problem: str
) -> None:
    path = write_bytes(tmp_path / name, payload)

    with pytest.raises(DataError) as raised:
        read_idx(path)

    assert str(path) in str(raised.value)
    assert problem in str(raised.value)


@pytest.mark.parametrize("payload", [LABELS, gzip.compress(LABELS)[:-6]], ids=["raw", "cut"])
def test_read_idx_rejects_gz_that_does_not_decompress(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(payload)

    with pytest.raises(DataError, match="does not decompress as gzip") as raised:
        read_idx(path)

    assert str(path) in str(raised.value)


def test_read_idx_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Could not read") as raised:
        read_idx(tmp_path / "nothing.gz")

    assert str(tmp_path / "nothing.gz") in str(raised.value)


# --- Split, MNIST and synthetic data -----------------------------------------------------------


def test_split_subset_and_to() -> None:
    split = Split(torch.arange(12.0).reshape(4, 3), torch.tensor([0, 1, 2, 3]))

    first = split.subset(2)

    assert len(split) == 4 and len(first) == 2
    assert first.labels.tolist() == [0, 1] and first.images[1].tolist() == [3.0, 4.0, 5.0]
    assert torch.equal(split.to("cpu").images, split.images)
    with pytest.raises(ValueError, match="cannot take 5"):
        split.subset(5)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        Split(split.images, split.labels[:3])


def test_mnist_to_moves_every_split() -> None:
    split = synthetic_classification(6)
    mnist = MNIST(split, split.subset(2), split.subset(3)).to(torch.device("cpu"))

    assert [len(mnist.train), len(mnist.validation), len(mnist.test)] == [6, 2, 3]
    assert mnist.train.images.device.type == "cpu"


def test_synthetic_classification_shapes_ranges_and_determinism() -> None:
    split = synthetic_classification(200, n_features=30, n_classes=4, seed=3)

    assert split.images.shape == (200, 30) and split.images.dtype == torch.float32
    assert split.labels.shape == (200,) and split.labels.dtype == torch.int64
    assert split.images.min() >= 0 and split.images.max() <= 1
    assert set(split.labels.tolist()) == {0, 1, 2, 3}
    again = synthetic_classification(200, n_features=30, n_classes=4, seed=3)
    assert torch.equal(again.images, split.images) and torch.equal(again.labels, split.labels)
    other = synthetic_classification(200, n_features=30, n_classes=4, seed=4)
    assert not torch.equal(other.images, split.images)


def test_synthetic_classification_is_learnable() -> None:
    split = synthetic_classification(2_000)
    train, test = split.subset(1_000), Split(split.images[1_000:], split.labels[1_000:])
    centroids = torch.stack([train.images[train.labels == c].mean(0) for c in range(10)])

    predicted = torch.cdist(test.images, centroids).argmin(1)

    assert (predicted == test.labels).float().mean() > 0.95


# --- finding MNIST -------------------------------------------------------------------------------


def test_search_dirs_order_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = cache_dir(tmp_path)
    assert mnist_search_dirs() == [cache]
    monkeypatch.setenv("DLEXP_DATA_DIR", str(tmp_path / "env"))
    assert mnist_search_dirs() == [tmp_path / "env", cache]
    assert mnist_search_dirs(tmp_path / "arg") == [tmp_path / "arg"]  # given: the only place
    monkeypatch.setenv("DLEXP_DATA_DIR", str(cache))
    assert mnist_search_dirs() == [cache]


def test_cache_dir_defaults_to_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))

    assert mnist_search_dirs() == [tmp_path / ".cache" / "dlexp"]


def test_search_order_and_both_layouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Callable[..., Path]
) -> None:
    arg = fake_mnist(tmp_path / "arg", label=1)
    fake_mnist(tmp_path / "env" / "MNIST" / "raw", label=2, suffix=".gz")
    fake_mnist(cache_dir(tmp_path), label=3)
    monkeypatch.setenv("DLEXP_DATA_DIR", str(tmp_path / "env"))

    assert load_mnist(arg, download=False).train.labels[0] == 1
    assert load_mnist(download=False).train.labels[0] == 2
    monkeypatch.delenv("DLEXP_DATA_DIR")
    assert load_mnist(download=False).train.labels[0] == 3


def test_an_explicit_data_dir_is_the_only_place_looked_at_and_names_the_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Callable[..., Path]
) -> None:
    monkeypatch.setenv("DLEXP_DATA_DIR", str(fake_mnist(tmp_path / "env", label=2)))
    given = fake_mnist(tmp_path / "given", label=1)
    (given / TEST_LABELS).unlink()
    requested = serve(monkeypatch, {})

    with pytest.raises(DataError) as raised:
        load_mnist(given)

    message = str(raised.value)
    assert f"{given} is the only place looked at" in message
    assert f"lacks {TEST_LABELS}(.gz) " in message and TRAIN_IMAGES not in message
    assert requested == []  # no download, no fall-back to DLEXP_DATA_DIR


def test_provenance_records_the_folder_and_each_files_checksum(
    tmp_path: Path, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=1)
    provenance = data.mnist_provenance(data.locate_mnist(folder, download=False))
    assert provenance["folder"] == str(folder.resolve())
    expected = hashlib.sha256((folder / TEST_LABELS).read_bytes()).hexdigest()
    assert provenance["sha256"][TEST_LABELS] == expected and len(provenance["sha256"]) == 4


def test_files_spread_over_both_layouts_do_not_count(
    tmp_path: Path, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=1)
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (folder / TEST_LABELS).rename(raw / TEST_LABELS)

    with pytest.raises(DataError, match=f"lacks {TEST_LABELS}"):
        load_mnist(folder, download=False)


# --- loading MNIST -------------------------------------------------------------------------------


def test_load_mnist_splits_scales_and_memoises(
    tmp_path: Path, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=7)

    mnist = load_mnist(folder, download=False)

    assert [len(mnist.train), len(mnist.validation), len(mnist.test)] == [500, 100, 100]
    for split in (mnist.train, mnist.validation, mnist.test):
        assert split.images.dtype == torch.float32 and split.images.shape[1] == 784
        assert split.labels.dtype == torch.int64 and bool((split.labels == 7).all())
        assert bool((split.images[:, 783] == 1).all())
    assert mnist.train.images[300, 0] == pytest.approx(300 % 256 / 255)
    assert mnist.validation.images[0, 0] == pytest.approx(500 % 256 / 255)
    assert mnist.test.images[99, 0] == pytest.approx(99 / 255)
    assert load_mnist(folder, download=False) is mnist


def test_a_gather_from_the_pixels_is_bit_for_bit_the_images(
    tmp_path: Path, fake_mnist: Callable[..., Path]
) -> None:
    """Every uint8 value, gathered as bytes and divided by 255, equals the stored float image."""
    mnist = load_mnist(fake_mnist(tmp_path / "data", label=3), download=False)
    assert mnist.train.pixels is not None
    assert len(set(mnist.train.pixels.flatten().tolist())) == 256  # every pixel value occurs
    rows = torch.randperm(len(mnist.train), generator=torch.Generator().manual_seed(0))
    for split in (mnist.train, mnist.validation, mnist.test, mnist.train.subset(300)):
        assert split.pixels is not None and split.pixels.dtype == torch.uint8
        chosen = rows[rows < len(split)]
        assert torch.equal(split.gather(chosen), split.images[chosen])
    plain = Split(mnist.test.images, mnist.test.labels)  # no pixels: the images themselves
    chosen = rows[rows < len(plain)]
    assert torch.equal(plain.gather(chosen), mnist.test.images[chosen])
    with pytest.raises(ValueError, match="pixels"):
        Split(mnist.test.images, mnist.test.labels, mnist.test.pixels[:, :10])


@pytest.mark.parametrize(
    ("stem", "replacement", "problem"),
    [
        (TRAIN_LABELS, torch.zeros(599, dtype=torch.uint8), "599 labels instead of 600"),
        (TEST_IMAGES, torch.zeros(100, dtype=torch.uint8), "wrong kind of data"),
        (TEST_LABELS, torch.full((100,), 10, dtype=torch.uint8), "label 10, outside 0-9"),
    ],
)
def test_load_mnist_rejects_wrong_contents(
    tmp_path: Path,
    fake_mnist: Callable[..., Path],
    stem: str,
    replacement: torch.Tensor,
    problem: str,
) -> None:
    folder = fake_mnist(tmp_path / "data", label=1)
    path = write_bytes(folder / stem, idx_bytes(replacement))

    with pytest.raises(DataError) as raised:
        load_mnist(folder, download=False)

    assert str(path) in str(raised.value) and problem in str(raised.value)


# --- caching -------------------------------------------------------------------------------------


def test_second_load_reads_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=4)
    first = load_mnist(folder, download=False)
    data._load_files.cache_clear()

    def no_parsing(paths: object) -> None:
        raise AssertionError("parsed the files despite a cache")

    monkeypatch.setattr(data, "_parse", no_parsing)
    second = load_mnist(folder, download=False)

    assert len(list(cache_dir(tmp_path).glob("mnist-*.pt"))) == 1
    assert torch.equal(second.train.images, first.train.images)
    assert torch.equal(second.test.labels, first.test.labels)


def test_changed_source_invalidates_the_cache(
    tmp_path: Path, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=1)
    assert load_mnist(folder, download=False).test.labels[0] == 1
    data._load_files.cache_clear()
    labels = write_bytes(folder / TEST_LABELS, idx_bytes(fake_contents(TEST_LABELS, 2)))
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 10**9))

    assert load_mnist(folder, download=False).test.labels[0] == 2


def test_unreadable_cache_file_is_ignored(tmp_path: Path, fake_mnist: Callable[..., Path]) -> None:
    folder = fake_mnist(tmp_path / "data", label=5)
    load_mnist(folder, download=False)
    data._load_files.cache_clear()
    (cache_file,) = cache_dir(tmp_path).glob("mnist-*.pt")
    cache_file.write_bytes(b"garbage")

    assert load_mnist(folder, download=False).train.labels[0] == 5


def test_unwritable_cache_dir_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Callable[..., Path]
) -> None:
    folder = fake_mnist(tmp_path / "data", label=6)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))

    assert load_mnist(folder, download=False).train.labels[0] == 6


# --- missing files and downloading ---------------------------------------------------------------


def test_missing_without_download_names_every_place_and_the_missing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLEXP_DATA_DIR", str(tmp_path / "env"))

    with pytest.raises(DataError) as raised:
        load_mnist(download=False)

    message = str(raised.value)
    for place in (tmp_path / "env", cache_dir(tmp_path)):
        assert str(place) in message
    assert "--data-dir" in message and "DLEXP_DATA_DIR" in message
    assert f"{TRAIN_IMAGES}(.gz)" in message


def test_offline_download_tries_both_mirrors_explains_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requested = serve(monkeypatch, {})

    with pytest.raises(DataError) as raised:
        load_mnist(progress=True)

    message = str(raised.value)
    assert requested == [FIRST_MIRROR + f"{TRAIN_IMAGES}.gz", SECOND_MIRROR + f"{TRAIN_IMAGES}.gz"]
    assert str(cache_dir(tmp_path)) in message
    assert "no network" in message and "--data-dir" in message
    assert not (tmp_path / "xdg").exists()  # no empty cache folder left behind
    assert "bytes" not in capsys.readouterr().err  # no "0/? bytes" bar


def test_md5_mismatch_deletes_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, {FIRST_MIRROR + f"{TRAIN_IMAGES}.gz": b"not mnist"})

    with pytest.raises(DataError, match=r"MD5 \w+ instead of f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        load_mnist(progress=False)

    assert not (cache_dir(tmp_path) / "MNIST").exists()


@pytest.mark.usefixtures("fake_mnist")
def test_download_falls_back_to_second_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archives = {stem: gzip.compress(idx_bytes(fake_contents(stem, 8))) for stem in STEMS}
    for stem, archive in archives.items():
        monkeypatch.setitem(data._MD5, stem, hashlib.md5(archive).hexdigest())
    serve(
        monkeypatch, {SECOND_MIRROR + f"{stem}.gz": archive for stem, archive in archives.items()}
    )

    mnist = load_mnist(progress=True)

    raw = cache_dir(tmp_path) / "MNIST" / "raw"
    assert sorted(path.name for path in raw.iterdir()) == sorted(f"{stem}.gz" for stem in STEMS)
    assert mnist.train.labels[0] == 8 and len(mnist.test) == 100


# --- the real MNIST ------------------------------------------------------------------------------


def real_mnist_present() -> bool:
    return REAL_DATA_DIR is not None and data._find_files(Path(REAL_DATA_DIR)) is not None


@pytest.mark.skipif(
    not real_mnist_present(), reason="real MNIST absent: set DLEXP_DATA_DIR to a folder holding it"
)
def test_real_mnist_statistics_and_fast_reload() -> None:
    start = time.perf_counter()
    mnist = load_mnist(REAL_DATA_DIR, download=False)
    first_s = time.perf_counter() - start
    data._load_files.cache_clear()
    start = time.perf_counter()
    load_mnist(REAL_DATA_DIR, download=False)
    cached_s = time.perf_counter() - start

    assert [len(mnist.train), len(mnist.validation), len(mnist.test)] == [50_000, 10_000, 10_000]
    official_train = torch.cat([mnist.train.images, mnist.validation.images])
    assert official_train.min() >= 0 and official_train.max() <= 1
    assert official_train.mean().item() == pytest.approx(0.1307, abs=1e-3)
    assert official_train.std().item() == pytest.approx(0.3081, abs=1e-3)
    train_counts = torch.bincount(torch.cat([mnist.train.labels, mnist.validation.labels]))
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(mnist.test.labels).sum() == 10_000
    assert mnist.train.labels[:3].tolist() == [5, 0, 4] and mnist.test.labels[0] == 7
    assert cached_s < 1.0, f"cache hit took {cached_s:.2f} s (first parse {first_s:.2f} s)"
