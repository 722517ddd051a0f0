import json
import os
import threading

import pytest

from dubkit.cache import Cache


def test_key_is_deterministic_and_order_free(tmp_path):
    cache = Cache(tmp_path)
    a = cache.key("s", {"lib": "1"}, {"x": 1, "y": 2}, {"in": "abc"})
    b = cache.key("s", {"lib": "1"}, {"y": 2, "x": 1}, {"in": "abc"})
    c = cache.key("s", {"lib": "2"}, {"x": 1, "y": 2}, {"in": "abc"})
    assert a.digest == b.digest != c.digest


def test_publish_then_lookup_with_preimage(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {"lib": "1"}, {}, {"in": "x"})
    assert cache.lookup(key) is None
    with cache.publish(key) as work:
        (work / "out.txt").write_text("hello")
    entry = cache.lookup(key)
    assert entry == tmp_path / "stage" / key.digest[:2] / key.digest
    assert (entry / "out.txt").read_text() == "hello"
    meta = cache.meta(entry)
    assert meta["preimage"]["inputs"] == {"in": "x"} and meta["files"] == {"out.txt": 5}


def test_failure_publishes_nothing_and_leaves_no_temp(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {}, {}, {})
    with pytest.raises(RuntimeError), cache.publish(key) as work:
        (work / "half.txt").write_text("partial")
        raise RuntimeError("boom")
    assert cache.lookup(key) is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_corrupt_entry_is_removed(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {}, {}, {})
    with cache.publish(key) as work:
        (work / "data.bin").write_bytes(b"0123456789")
    (cache.path(key) / "data.bin").write_bytes(b"01")  # truncated behind our back
    assert cache.lookup(key) is None
    assert not cache.path(key).exists()


def test_racing_writers_keep_one_whole_entry(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {}, {}, {})
    barrier = threading.Barrier(4)

    def write(n: int) -> None:
        with cache.publish(key) as work:
            (work / "v.txt").write_text("same content")
            barrier.wait()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entry = cache.lookup(key)
    assert entry is not None and (entry / "v.txt").read_text() == "same content"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_file_digest_is_memoized_and_follows_changes(tmp_path):
    cache = Cache(tmp_path / "cache")
    media = tmp_path / "a.bin"
    media.write_bytes(b"abc")
    first = cache.file_digest(media)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    memo = next((tmp_path / "cache" / "files").iterdir())
    assert json.loads(memo.read_text())["sha256"] == first
    media.write_bytes(b"abcd")
    os.utime(media, ns=(1, 1))
    assert cache.file_digest(media) != first


def test_stats_counts_entries(tmp_path):
    cache = Cache(tmp_path)
    for n in range(3):
        with cache.publish(cache.key("tts", {}, {}, {"n": n})) as work:
            (work / "a.wav").write_bytes(b"x" * 10)
    assert cache.stats()["tts"]["entries"] == 3
