"""A worker hands the memory its heap keeps back to the system once it has grown
(`dlexp.heap.HeapTrimmer`), and only then."""

import pytest

from dlexp import heap
from dlexp.heap import HeapTrimmer, malloc_trim, resident_mb


def test_it_trims_only_once_resident_memory_has_grown_by_the_threshold(monkeypatch):
    resident = iter([700.0, 750.0, 830.0, 650.0, 700.0, 779.0, 781.0, 640.0])
    trims = []
    monkeypatch.setattr(heap, "resident_mb", lambda: next(resident))
    monkeypatch.setattr(heap, "malloc_trim", lambda: trims.append)
    trimmer = HeapTrimmer(growth_mb=130)  # baseline 700
    assert [trimmer(), trimmer()] == [False, True]  # 750: +50; 830: +130, trimmed to 650
    assert trims == [0]
    assert [trimmer(), trimmer(), trimmer()] == [False, False, True]  # from 650: +50, +129, +131
    assert trims == [0, 0]
    assert trimmer.baseline == 640.0


def test_without_malloc_trim_it_never_trims(monkeypatch):
    monkeypatch.setattr(heap, "malloc_trim", lambda: None)
    trimmer = HeapTrimmer(growth_mb=0)
    assert not trimmer()


@pytest.mark.skipif(malloc_trim() is None or resident_mb() is None, reason="glibc on Linux")
def test_the_heap_s_freed_memory_goes_back_to_the_system():
    big = bytearray(16 << 20)
    del big  # freeing a 16 MB mapping raises glibc's mmap threshold: 1 MB blocks now use the heap
    trimmer = HeapTrimmer(growth_mb=64)
    blocks = [bytearray(1 << 20) for _ in range(200)]  # 200 MB, touched, on the heap
    pin = bytearray(1 << 20)  # above them: the heap's top stays, so free() cannot give them back
    del blocks
    before = resident_mb()
    assert trimmer()
    assert resident_mb() < before - 150
    del pin
