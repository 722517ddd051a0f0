"""Deliverables: MP4 + MKV with the dub first and default, the original second, labels, loudness profiles, stems."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.audio import read_wav, write_wav
from dubkit.config import LOUDNESS_PROFILES, PIPELINES_DIR, LoudnessTarget, load_preset
from dubkit.errors import ConfigError
from dubkit.media import delivery, labels
from dubkit.stages import render
from tests.clitools import dubkit, summary
from tests.media_fixtures import MEDIA, real, remuxed, rotated_copy

FACE = MEDIA / "video" / "talking_heads" / "face_1.mp4"
JFK = MEDIA / "audio" / "jfk" / "jfk.flac"
GRID = MEDIA / "video" / "grid" / "bbaf2n.mpg"


def tag(tags: dict[str, str], key: str) -> str | None:
    """A tag by name whatever its case (Matroska writes standard keys upper-case)."""
    return next((value for name, value in tags.items() if name.lower() == key.lower()), None)


# --- presets ---------------------------------------------------------------------------------------------------


def test_loudness_profiles_and_overrides(tmp_path: Path) -> None:
    assert {
        "broadcast": LoudnessTarget(-24.0, -2.0),
        "streaming": LoudnessTarget(-16.0, -1.0),
        "short-form": LoudnessTarget(-14.0, -1.0),
    } == LOUDNESS_PROFILES
    default = load_preset().render
    assert (default.profile, default.loudness, default.containers) == (
        "streaming",
        LOUDNESS_PROFILES["streaming"],
        ("mp4", "mkv"),
    )
    path = tmp_path / "loud.toml"
    path.write_text('[render]\nprofile = "broadcast"\ntrue_peak_dbtp = -3.0\nstems = true\n')
    preset = load_preset(str(path))
    assert preset.render.loudness == LoudnessTarget(-24.0, -3.0) and preset.render.stems


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('profile = "cinema"', "unknown loudness profile 'cinema'"),
        ('containers = ["mp4", "avi"]', "containers must list"),
        ("containers = []", "at least one"),
        ('subtitle_tracks = ["webm"]', "subtitle_tracks must list"),
    ],
)
def test_bad_render_options_are_config_errors_naming_the_file(tmp_path: Path, body: str, named: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[render]\n{body}\n")
    with pytest.raises(ConfigError, match=rf"bad\.toml: render: .*{re.escape(named)}"):
        load_preset(str(path))


def test_every_shipped_preset_has_a_valid_render_section() -> None:
    for path in PIPELINES_DIR.glob("*.toml"):
        assert load_preset(str(path)).render.loudness.integrated_lufs in (-24.0, -16.0, -14.0)


# --- labels ----------------------------------------------------------------------------------------------------


def test_labels_say_synthetic_speech_and_lipsync_only_when_there_was_one() -> None:
    synced = labels.for_dub("es", "en", lip_synced=True)
    assert synced.container["AI_GENERATED"] == "synthetic speech; lip-synced video"
    assert (
        "AI-generated synthetic speech" in synced.container["comment"]
        and "altered by AI" in synced.container["comment"]
    )
    assert synced.container["description"] == synced.container["comment"]
    assert synced.dub == {
        "title": "Spanish (AI dub)",
        "handler_name": "Spanish (AI dub)",
        "AI_GENERATED": "synthetic speech",
    }
    assert synced.original["title"] == "English (original)"
    assert synced.video["AI_GENERATED"] == "lip-synced video"
    kept = labels.for_dub("pt-BR", "fr", lip_synced=False)
    assert kept.container["AI_GENERATED"] == "synthetic speech" and "altered" not in kept.container["comment"]
    assert (kept.dub["title"], kept.original["title"], kept.video) == ("Portuguese (AI dub)", "French (original)", {})


# --- media.delivery on real clips ------------------------------------------------------------------------------


def video_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(container.streams.video[0]) if packet.size]


@pytest.fixture
def two_tracks(tmp_path: Path) -> delivery.Delivery:
    """face_1's picture; JFK's speech as the "dub" (cut short: padded), face_1's own sound as the original."""
    dub = media.extract_audio(real(JFK), tmp_path / "dub.wav", rate=24000, channels=1)
    original = media.extract_audio(real(FACE), tmp_path / "original.wav", rate=48000, channels=2)
    srt = tmp_path / "dub.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nHola, mundo.\n\n2\n00:00:02,500 --> 00:00:04,000\nAdiós.\n")
    tags = labels.for_dub("es", "en", lip_synced=True)
    subs = delivery.Track(srt, "spa", tags.subtitles)
    audio = (delivery.Track(dub, "spa", tags.dub), delivery.Track(original, "eng", tags.original))
    return delivery.Delivery(FACE, audio, 5.0, subs, tags.container, tags.video)


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_a_picture_cut_from_its_sound_keeps_its_place(
    tmp_path: Path, two_tracks: delivery.Delivery, container: str
) -> None:
    """face_1's picture starts 33 ms after its sound. Copied alone (as the lip-synced picture is written), it starts
    its own file: delivered as it is, it would show a frame early; told where it starts, it keeps its place."""
    import dataclasses

    alone = remuxed(FACE, tmp_path / "picture.mp4", "mp4", ("v",))
    start = media.probe(real(FACE)).video_start_s
    placed = dataclasses.replace(two_tracks, picture=alone, video_start_s=start)
    out = delivery.deliver(placed, tmp_path / f"placed.{container}", container)
    first = next(media.video_frames(out, max_height=32)).time_s
    assert first == pytest.approx(start, abs=1e-3) and start == pytest.approx(0.033, abs=1e-3)
    out = delivery.deliver(dataclasses.replace(placed, video_start_s=None), tmp_path / f"as.{container}", container)
    assert next(media.video_frames(out, max_height=32)).time_s == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize(("container", "subtitle_codec"), [("mp4", "mov_text"), ("mkv", "subrip")])
def test_deliver_puts_the_dub_first_and_default_with_labels(
    tmp_path: Path, two_tracks: delivery.Delivery, container: str, subtitle_codec: str
) -> None:
    out = delivery.deliver(two_tracks, tmp_path / f"dub.{container}", container)
    tags, streams = delivery.tracks(out)
    assert [s.kind for s in streams] == ["video", "audio", "audio", "subtitle"]
    video, dub, original, subs = streams
    assert (dub.default, dub.language, original.default, original.language) == (True, "spa", False, "eng")
    assert (dub.title, original.title) == ("Spanish (AI dub)", "English (original)")
    assert tag(tags, "AI_GENERATED") == "synthetic speech; lip-synced video"
    assert "synthetic speech" in tag(tags, "comment") and tag(tags, "description") == tag(tags, "comment")
    assert tag(tags, "title") is None  # nothing carried over from the source's own tags
    assert subs.codec in (subtitle_codec, "srt") and subs.language == "spa"
    assert video.title == "Video (AI lip-synced)"
    if container == "mkv":  # Matroska keeps every per-stream tag
        assert (
            tag(dub.tags, "AI_GENERATED") == "synthetic speech"
            and tag(video.tags, "AI_GENERATED") == "lip-synced video"
        )
        assert not subs.default
    assert video_packets(out) == video_packets(FACE)[: len(video_packets(out))]
    assert media.probe(out).duration_s == pytest.approx(5.0, abs=0.1)
    for index in (0, 1):  # both audio tracks padded / trimmed to the delivery's length
        assert len(decoded_track(out, index)) / 48000 == pytest.approx(5.0, abs=0.05)


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_the_same_delivery_is_the_same_bytes(tmp_path: Path, two_tracks: delivery.Delivery, container: str) -> None:
    first = delivery.deliver(two_tracks, tmp_path / f"first.{container}", container).read_bytes()
    time.sleep(1.1)  # a muxing date, were one written, would differ
    assert delivery.deliver(two_tracks, tmp_path / f"second.{container}", container).read_bytes() == first


def decoded_track(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        chunks = [frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)]
    return np.concatenate(chunks)


def test_deliver_without_subtitles_or_picture(tmp_path: Path, two_tracks: delivery.Delivery) -> None:
    sound_only = two_tracks.audio[1].path
    spec = delivery.Delivery(sound_only, two_tracks.audio, 3.0, None, {"AI_GENERATED": "synthetic speech"})
    out = delivery.deliver(spec, tmp_path / "radio.mkv", "mkv")
    tags, streams = delivery.tracks(out)
    assert [s.kind for s in streams] == ["audio", "audio"] and streams[0].default and not streams[1].default
    assert tag(tags, "AI_GENERATED") == "synthetic speech"


def test_deliver_refuses_bad_language_and_container(tmp_path: Path, two_tracks: delivery.Delivery) -> None:
    with pytest.raises(ValueError, match="ISO 639-2"):
        bad = delivery.Track(two_tracks.audio[0].path, "es")
        delivery.deliver(delivery.Delivery(FACE, (bad,), 2.0), tmp_path / "x.mp4", "mp4")
    with pytest.raises(ValueError, match="container"):
        delivery.deliver(two_tracks, tmp_path / "x.avi", "avi")
    assert list(tmp_path.glob("x.*")) == []


# --- stems helpers ---------------------------------------------------------------------------------------------


def test_exactly_pads_and_cuts_streams() -> None:
    blocks = [np.ones((4, 2), np.float32), np.ones((3, 2), np.float32)]
    assert sum(len(b) for b in render._exactly(iter(blocks), 10, 2, 4)) == 10
    assert sum(len(b) for b in render._exactly(iter(blocks), 5, 2, 4)) == 5
    padded = np.concatenate(list(render._exactly(iter(blocks), 10, 2, 4)))
    assert padded[:7].all() and not padded[7:].any()


def test_fitted_gain_recovers_a_normalization_gain(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = (0.1 * rng.standard_normal((48000, 2))).astype(np.float32)
    write_wav(tmp_path / "raw.wav", raw, 48000, subtype="FLOAT")
    write_wav(tmp_path / "norm.wav", raw * 0.5, 48000, subtype="FLOAT")
    assert render._fitted_gain(tmp_path / "raw.wav", tmp_path / "norm.wav", 10000) == pytest.approx(0.5, rel=1e-4)


def _speech_like(seconds: float, level: float, seed: int) -> np.ndarray:
    """Noise bursts (250 ms on, 250 ms off) at *level*: speech enough for an active-level meter."""
    rng = np.random.default_rng(seed)
    samples = level * rng.standard_normal(int(seconds * 48000)).astype(np.float32)
    samples.reshape(-1, 12000)[1::2] = 0.0
    return samples


def test_every_take_is_placed_at_the_line_level_from_its_own_samples() -> None:
    from dubkit import audio
    from dubkit.stages import synthesize

    for level in (0.01, 0.1, 0.5):
        placed = synthesize.at_line_level(_speech_like(2.0, level, 1), 48000)
        assert audio.active_rms_db(placed, 48000) == pytest.approx(synthesize.LINE_LEVEL_DB, abs=0.01)
    silence = np.zeros(48000, np.float32)
    assert not synthesize.at_line_level(silence, 48000).any()
    whisper = _speech_like(1.0, 10 ** (-48 / 20), 2)  # 24 dB under the line level: raised by at most the cap
    raised = audio.active_rms_db(synthesize.at_line_level(whisper, 48000), 48000) - audio.active_rms_db(whisper, 48000)
    assert raised == pytest.approx(min(synthesize.LINE_LEVEL_DB + 48, synthesize.MAX_LINE_GAIN_DB), abs=0.1)


def test_the_line_level_enters_the_synthesize_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from dubkit.stages import synthesize
    from dubkit.stages.base import Context

    context = Context(None, load_preset(), None)  # type: ignore[arg-type]
    before = synthesize._options({}, context)
    monkeypatch.setattr(synthesize, "LINE_LEVEL_DB", synthesize.LINE_LEVEL_DB + 3.0)
    assert synthesize._options({}, context) != before


def test_the_dialogue_gain_depends_on_the_source_not_on_the_other_lines(tmp_path: Path) -> None:
    """Two dialogue tracks that differ in one line (one twice as loud and longer) mix identically elsewhere."""
    from dubkit.stages import synthesize

    bed = 0.01 * np.random.default_rng(3).standard_normal((6 * 48000, 2)).astype(np.float32)
    write_wav(tmp_path / "bed.wav", bed, 48000, subtype="FLOAT")
    (tmp_path / "speech_level.json").write_text('{"active_rms_db": -20.0}')
    first, second = np.zeros(6 * 48000, np.float32), np.zeros(6 * 48000, np.float32)
    first[:96000] = second[:96000] = synthesize.at_line_level(_speech_like(2.0, 0.1, 4), 48000)
    first[144000:192000] = synthesize.at_line_level(_speech_like(1.0, 0.1, 5), 48000)
    second[144000:240000] = synthesize.at_line_level(_speech_like(2.0, 0.2, 6), 48000)
    gains = []
    for name, dialogue in (("first", first), ("second", second)):
        write_wav(tmp_path / f"{name}.wav", dialogue, 48000, subtype="FLOAT")
        gains.append(render._mix(tmp_path / "bed.wav", tmp_path / f"{name}.wav", tmp_path / f"{name}.mix.wav"))
    assert gains[0] == gains[1] == pytest.approx(10 ** ((-20.0 - synthesize.LINE_LEVEL_DB) / 20))
    mixes = [read_wav(tmp_path / f"{name}.mix.wav")[0] for name in ("first", "second")]
    np.testing.assert_array_equal(mixes[0][:144000], mixes[1][:144000])
    np.testing.assert_array_equal(mixes[0][240000:], mixes[1][240000:])


# --- a real dub, one per profile (slow) ------------------------------------------------------------------------

PROFILES = tuple(LOUDNESS_PROFILES)


def preset_for(profile: str, folder: Path) -> Path:
    """The default preset with *profile*, stems, and subtitle tracks in both containers."""
    text = (PIPELINES_DIR / "default.toml").read_text()
    for key, value in (("profile", f'"{profile}"'), ("stems", "true"), ("subtitle_tracks", '["mkv", "mp4"]')):
        text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        assert found, key
    path = folder / f"{profile}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory, shared_media) -> dict[str, dict]:
    """One GRID clip dubbed en→es once (shared cache), rendered under each loudness profile."""
    work = tmp_path_factory.mktemp("delivery")
    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    found = {}
    for profile in PROFILES:
        args = ("translate", clip, "--to", "es", "--from", "en", "--no-qa", "--json")
        options = ("--pipeline", preset_for(profile, work), "-o", work / profile)
        found[profile] = summary(dubkit(*args, *options, cache=work / "cache"))
    return found


@pytest.mark.slow
def test_both_containers_carry_the_dub_first_the_original_second_and_the_labels(dubbed) -> None:
    result = dubbed["streaming"]
    mp4, mkv = Path(result["output"]), Path(result["matroska"])
    assert (mp4.name, mkv.name) == ("bbaf2n.es.mp4", "bbaf2n.es.mkv")
    lip_synced = not result["stages"]["lipsync"]["skipped"]
    for path in (mp4, mkv):
        tags, streams = delivery.tracks(path)
        kinds = [s.kind for s in streams]
        assert kinds == ["video", "audio", "audio", "subtitle"], (path, kinds)
        dub, original = streams[1], streams[2]
        assert (dub.default, dub.language, original.default, original.language) == (True, "spa", False, "eng")
        assert (dub.title, original.title) == ("Spanish (AI dub)", "English (original)")
        expected = "synthetic speech; lip-synced video" if lip_synced else "synthetic speech"
        assert tag(tags, "AI_GENERATED") == expected and "AI-generated synthetic speech" in tag(tags, "comment")
        assert streams[3].language == "spa"
        assert media.probe(path).duration_s == pytest.approx(media.probe(GRID).duration_s, abs=0.1)
    assert lip_synced  # GRID shows one frontal speaker: the picture is the re-animated one


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_lands_within_one_lu_under_its_peak_limit(dubbed, profile: str) -> None:
    target = LOUDNESS_PROFILES[profile]
    result = dubbed[profile]
    for path in (Path(result["output"]), Path(result["matroska"])):
        measured = media.measure_loudness(path)  # the first audio track: the dub as delivered (AAC)
        assert abs(measured.integrated_lufs - target.integrated_lufs) <= 1.0, (profile, path.suffix, measured)
        assert measured.true_peak_dbtp <= target.true_peak_dbtp, (profile, path.suffix, measured)
    if profile != PROFILES[0]:  # only the render stage runs again for another profile
        assert result["stages"]["render"]["cached"] is False and result["stages"]["synthesize"]["cached"] is True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profile", "max_residual_db"), [("broadcast", -50.0), ("streaming", -20.0), ("short-form", -20.0)]
)
def test_stems_are_48k_and_the_mix_is_bed_plus_dialogue(dubbed, profile: str, max_residual_db: float) -> None:
    """Exact (24-bit) where loudness normalization is a plain gain (-24 LKFS here); where the limiter caught the
    peaks (-16 and -14 LUFS on this clip), the difference is those peaks only."""
    folder = Path(dubbed[profile]["stems"])
    assert folder.name == "bbaf2n.es.stems"
    stems = {name: read_wav(folder / f"{name}.wav") for name in ("dialogue", "bed", "mix")}
    assert {rate for _, rate in stems.values()} == {48000}
    assert len({samples.shape for samples, _ in stems.values()}) == 1
    mix, dialogue, bed = stems["mix"][0], stems["dialogue"][0], stems["bed"][0]
    assert len(mix) / 48000 == pytest.approx(media.probe(GRID).duration_s, abs=0.05)
    residual = np.sqrt(np.mean(np.square(mix - dialogue - bed))) / np.sqrt(np.mean(np.square(mix)))
    assert 20 * np.log10(residual + 1e-12) < max_residual_db
    assert np.sqrt(np.mean(np.square(dialogue))) > 0.01  # the stems are not silent
    measured = media.measure_loudness(folder / "mix.wav")
    assert abs(measured.integrated_lufs - LOUDNESS_PROFILES[profile].integrated_lufs) <= 1.0


class _KeyTaken(Exception):
    pass


class _RecordingCache:
    """Records the options of the key `render.run` asks for, then stops the stage."""

    def __init__(self) -> None:
        self.options: list[dict] = []

    def key(self, stage, fingerprint, options, inputs, *, code):  # type: ignore[no-untyped-def]
        self.options.append(options)
        raise _KeyTaken


@pytest.mark.parametrize(
    "change",
    [
        {"profile": "broadcast"},
        {"target_lufs": -20.0},
        {"true_peak_dbtp": -3.0},
        {"containers": ("mkv",)},
        {"subtitle_tracks": ()},
        {"stems": True},
        {"options": {"atten_lim_db": 12}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_render_option_changes_the_render_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict
) -> None:
    import dataclasses

    from dubkit.job import Artefact, Episode, Job
    from dubkit.script import Script, Segment
    from dubkit.stages.base import Context

    monkeypatch.setattr(render, "_bed", lambda job, ctx: Path("/cache/bed/ab/abc/bed.wav"))
    script = Script("en", "es", (Segment("L0001", 0, 1000, text="hi", translation="hola"),), ("S1",))
    artefacts = {stage: Artefact(stage, tmp_path / stage, True) for stage in ("ingest", "synthesize")}
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "info.json").write_text('{"fps": 25.0, "duration_s": 1.0, "video_start_s": 0.0}')
    job = Job(Episode(Path("/in/clip.mp4"), "es"), artefacts, script)
    preset = load_preset()
    options = []
    for config in (preset.render, dataclasses.replace(preset.render, **change)):
        cache = _RecordingCache()
        context = Context(cache, dataclasses.replace(preset, render=config), None)  # type: ignore[arg-type]
        with pytest.raises(_KeyTaken):
            render.run(job, context)
        options.append(cache.options[0])
    assert options[0] != options[1]


# --- the normalizer on real speech, per profile, as delivered (AAC) -------------------------------------------


@pytest.mark.parametrize("profile", tuple(LOUDNESS_PROFILES))
@pytest.mark.parametrize("source", [JFK, FACE, GRID], ids=["jfk", "face_1", "grid"])
def test_profiles_land_on_target_through_aac(tmp_path: Path, source: Path, profile: str) -> None:
    target = LOUDNESS_PROFILES[profile]
    speech = media.extract_audio(real(source), tmp_path / "speech.wav", rate=48000, channels=2)
    peak = target.true_peak_dbtp - render.CODEC_HEADROOM_DB
    media.normalize_loudness(speech, tmp_path / "dub.wav", target.integrated_lufs, peak)
    track = delivery.Track(tmp_path / "dub.wav", "spa")
    spec = delivery.Delivery(tmp_path / "dub.wav", (track,), media.probe(speech).duration_s)
    measured = media.measure_loudness(delivery.deliver(spec, tmp_path / "dub.mp4", "mp4"))
    assert abs(measured.integrated_lufs - target.integrated_lufs) <= 1.0, measured
    assert measured.true_peak_dbtp <= target.true_peak_dbtp, measured


def test_the_limiter_does_not_delay_the_sound(tmp_path: Path) -> None:
    """face_1 at -14 LUFS needs the limiter; its look-ahead must not shift the dub against the picture."""
    speech = media.extract_audio(real(FACE), tmp_path / "speech.wav", rate=48000, channels=1)
    media.normalize_loudness(speech, tmp_path / "loud.wav", -14.0, -1.5)
    raw, _ = read_wav(speech)
    loud, _ = read_wav(tmp_path / "loud.wav")
    window = slice(48000, 48000 + 4800)
    lags = range(-100, 101)
    scores = [float(np.dot(raw[window], np.roll(loud, -lag)[window])) for lag in lags]
    assert lags[int(np.argmax(scores))] == 0


def test_deliver_keeps_the_display_rotation(tmp_path: Path, two_tracks: delivery.Delivery) -> None:
    """A phone video's rotation is side data, not a tag: dropping the source's tags must not drop it."""
    rotated = rotated_copy(FACE, tmp_path / "rotated.mp4")
    spec = delivery.Delivery(rotated, two_tracks.audio, 4.0)
    for container in ("mp4", "mkv"):
        out = delivery.deliver(spec, tmp_path / f"dub.{container}", container)
        assert abs(media.probe(out).rotation) == 90, container
