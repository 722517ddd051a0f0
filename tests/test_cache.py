import json
import os
import threading
import types
from pathlib import Path

import pytest

from dubkit.cache import Cache, Key
from dubkit.runner import Lookahead, WouldCompute


def module(name: str, version: object) -> types.ModuleType:
    made = types.ModuleType(name)
    made.VERSION = version  # type: ignore[attr-defined]
    return made


def key(cache: Cache, stage: str = "stage", **inputs: object) -> Key:
    return cache.key(stage, {}, {}, inputs, code=())


def test_key_is_deterministic_and_order_free(tmp_path):
    cache = Cache(tmp_path)
    a = cache.key("s", {"lib": "1"}, {"x": 1, "y": 2}, {"in": "abc"}, code=())
    b = cache.key("s", {"lib": "1"}, {"y": 2, "x": 1}, {"in": "abc"}, code=())
    c = cache.key("s", {"lib": "2"}, {"x": 1, "y": 2}, {"in": "abc"}, code=())
    assert a.digest == b.digest != c.digest


def test_a_key_changes_with_the_version_of_a_module_it_names(tmp_path):
    cache = Cache(tmp_path)
    layout, splice = module("dubkit.layout", 1), module("dubkit.splice", 3)
    before = cache.key("render", {}, {}, {}, code=(layout, splice))
    assert before.preimage["code"] == {"dubkit.layout": 1, "dubkit.splice": 3}
    assert cache.key("render", {}, {}, {}, code=(splice, layout)).digest == before.digest
    layout.VERSION = 2  # type: ignore[attr-defined]
    after = cache.key("render", {}, {}, {}, code=(layout, splice))
    assert after.digest != before.digest and after.preimage["code"]["dubkit.layout"] == 2
    assert cache.key("render", {}, {}, {}, code=(splice,)).digest not in {before.digest, after.digest}


@pytest.mark.parametrize("version", [None, "v2", 1.0, True])
def test_a_module_without_an_int_version_cannot_enter_a_key(tmp_path, version):
    with pytest.raises(TypeError, match="dubkit.odd"):
        Cache(tmp_path).key("s", {}, {}, {}, code=(module("dubkit.odd", version),))


def test_the_modules_that_own_cached_logic_declare_their_version():
    from dubkit import audio, fit, media
    from dubkit.media import splice
    from dubkit.stages import ingest, lipsync, qa, render, synthesize, transcribe, translate
    from dubkit.subtitles import condense, layout

    owners = (ingest, transcribe, translate, synthesize, lipsync, render, qa, media, splice, audio, fit, condense)
    assert all(type(owner.VERSION) is int for owner in (*owners, layout))


def test_entry_builds_a_missing_entry_once_then_finds_it(tmp_path):
    cache, built = Cache(tmp_path), []

    def build(work: Path) -> None:
        built.append(work)
        (work / "out.txt").write_text("made")

    entry, cached = cache.entry(key(cache), build)
    assert not cached and entry == cache.path(key(cache)) and (entry / "out.txt").read_text() == "made"
    assert cache.entry(key(cache), build) == (entry, True)
    assert len(built) == 1 and not built[0].exists()
    assert cache.meta(entry)["files"] == {"out.txt": 4}


def test_entry_rebuilds_a_corrupt_entry(tmp_path):
    cache = Cache(tmp_path)
    entry, _ = cache.entry(key(cache), lambda work: (work / "data.bin").write_bytes(b"0123456789"))
    (entry / "data.bin").write_bytes(b"01")  # truncated behind our back
    again, cached = cache.entry(key(cache), lambda work: (work / "data.bin").write_bytes(b"abcdefghij"))
    assert not cached and again == entry and (entry / "data.bin").read_bytes() == b"abcdefghij"


def test_entry_whose_build_fails_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def build(work: Path) -> None:
        (work / "half.txt").write_text("partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.entry(key(cache), build)
    assert not cache.path(key(cache)).exists() and list((tmp_path / "tmp").iterdir()) == []
    assert cache.entry(key(cache), lambda work: (work / "ok.txt").write_text("ok"))[1] is False


def test_entry_keeps_the_copy_a_racing_writer_published_first(tmp_path):
    cache = Cache(tmp_path)

    def build(work: Path) -> None:
        (work / "v.txt").write_text("ours")
        with cache.publish(key(cache)) as theirs:  # another writer finishes while ours is still at work
            (theirs / "v.txt").write_text("theirs")

    entry, cached = cache.entry(key(cache), build)
    assert not cached and (entry / "v.txt").read_text() == "theirs"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_entries_build_only_the_missing_ones_from_one_producer(tmp_path):
    cache = Cache(tmp_path)
    keys = {n: key(cache, n=n) for n in range(4)}
    cache.entry(keys[1], lambda work: (work / "v.txt").write_text("old 1"))
    asked = []

    def produce(missing: list[int]):
        asked.append(list(missing))
        for n in missing:
            yield lambda work, n=n: (work / "v.txt").write_text(f"new {n}")

    found = cache.entries(keys, produce)
    assert asked == [[0, 2, 3]]
    assert {n: (path / "v.txt").read_text() for n, (path, _) in found.items()} == {
        0: "new 0",
        1: "old 1",
        2: "new 2",
        3: "new 3",
    }
    assert [cached for _, cached in found.values()] == [False, True, False, False]
    assert all(cached for _, cached in cache.entries(keys, produce).values()) and len(asked) == 1


def test_entries_publish_each_entry_as_it_is_built(tmp_path):
    cache = Cache(tmp_path)
    keys = {n: key(cache, n=n) for n in range(3)}

    def produce(missing: list[int]):
        yield lambda work: (work / "v.txt").write_text("first")
        raise RuntimeError("the decoder broke")

    with pytest.raises(RuntimeError, match="decoder"):
        cache.entries(keys, produce)
    assert [cache.lookup(keys[n]) is not None for n in range(3)] == [True, False, False]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_look_ahead_finds_entries_and_stops_before_building(tmp_path):
    Cache(tmp_path).entry(key(Cache(tmp_path), n=1), lambda work: (work / "v.txt").write_text("1"))
    ahead, built = Lookahead(tmp_path), []
    assert ahead.entry(key(ahead, n=1), built.append)[1] is True
    with pytest.raises(WouldCompute):
        ahead.entry(key(ahead, n=2), built.append)
    with pytest.raises(WouldCompute):
        ahead.entries({1: key(ahead, n=1), 2: key(ahead, n=2)}, lambda missing: iter([built.append]))
    assert built == [] and not (tmp_path / "stage" / key(ahead, n=2).digest[:2]).exists()
    assert not (tmp_path / "tmp").exists() or list((tmp_path / "tmp").iterdir()) == []


def test_publish_then_lookup_with_preimage(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {"lib": "1"}, {}, {"in": "x"}, code=())
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
    key = cache.key("stage", {}, {}, {}, code=())
    with pytest.raises(RuntimeError), cache.publish(key) as work:
        (work / "half.txt").write_text("partial")
        raise RuntimeError("boom")
    assert cache.lookup(key) is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_corrupt_entry_is_removed(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {}, {}, {}, code=())
    with cache.publish(key) as work:
        (work / "data.bin").write_bytes(b"0123456789")
    (cache.path(key) / "data.bin").write_bytes(b"01")  # truncated behind our back
    assert cache.lookup(key) is None
    assert not cache.path(key).exists()


def test_racing_writers_keep_one_whole_entry(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("stage", {}, {}, {}, code=())
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
        with cache.publish(cache.key("tts", {}, {}, {"n": n}, code=())) as work:
            (work / "a.wav").write_bytes(b"x" * 10)
    assert cache.stats()["tts"]["entries"] == 3
