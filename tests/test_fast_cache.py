"""The fast engine's caches: content keys, frozen arrays hashed once."""

import numpy as np
import pytest

from napari_styletransfer.fast import cache


def test_a_frozen_copy_has_the_same_key_and_cannot_change():
    image = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    frozen = cache.freeze(image)
    assert cache.is_frozen(frozen) and not cache.is_frozen(image)
    assert cache.array_key(frozen) == cache.array_key(image)
    with pytest.raises(ValueError):
        frozen[0, 0, 0] = 1.0
    image[0, 0, 0] += 0.5  # the original is not tied to its frozen copy
    assert cache.array_key(image) != cache.array_key(frozen)


def test_a_frozen_array_is_hashed_once(monkeypatch):
    frozen = cache.freeze(np.ones((8, 8, 3), np.float32))
    first = cache.array_key(frozen)
    calls = []
    real = cache.hashlib.blake2b
    monkeypatch.setattr(cache.hashlib, "blake2b", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert cache.array_key(frozen) == first
    assert calls == []
    writable = np.ones((8, 8, 3), np.float32)  # a writable array may change: hashed every time
    cache.array_key(writable)
    cache.array_key(writable)
    assert len(calls) == 2


def test_a_read_only_view_of_a_writable_array_is_not_frozen():
    base = np.zeros((8, 8, 3), np.float32)
    view = base[:]
    view.flags.writeable = False
    assert not cache.is_frozen(view)
    before = cache.array_key(view)
    base += 1.0
    assert cache.array_key(view) != before
