"""H.264 splicing: only the spans holding changed frames are re-encoded; every other frame is bit-identical."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.media import h264, splice

SIZE = (160, 128)
BOX = (slice(40, 70), slice(60, 100))  # rows, columns painted by the test's "engine"


def _picture(index: int) -> np.ndarray:
    """A moving, textured test picture (so the encoder has work to do and errors show)."""
    height, width = SIZE[1], SIZE[0]
    y, x = np.mgrid[0:height, 0:width]
    phase = index / 4.0
    rgb = np.stack(
        [np.sin(x / 7.0 + phase), np.sin(y / 5.0 - phase), np.sin((x + y) / 9.0 + 2 * phase) * np.cos(x / 13.0)], axis=2
    )
    return (127.5 + 110 * rgb).astype(np.uint8)


def _encode(path: Path, codec: str = "libx264", frames: int = 60, options: dict | None = None) -> Path:
    """A variable-frame-rate clip: frame intervals alternate 40 and 80 ms."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.options = options or {}
        time_ms = 0
        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(_picture(index), format="rgb24")
            picture.pts, picture.time_base = time_ms, Fraction(1, 1000)
            time_ms += 40 if index % 2 else 80
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """H.264 High with B-frames (decode order differs from presentation order) and an IDR every 20 frames."""
    options = {"x264-params": "keyint=20:min-keyint=20:scenecut=0:bframes=2:b-pyramid=0", "crf": "18"}
    return _encode(tmp_path_factory.mktemp("splice") / "clip.mp4", options=options)


def _paint(frames):
    for frame in frames:
        if 25 <= frame.index <= 30:
            rgb = frame.rgb.copy()
            rgb[BOX] = (250, 20, 20)
            yield frame, rgb
        else:
            yield frame, frame.rgb


def _spliced(clip: Path, out: Path, changed: list[int]) -> tuple[splice.Layout, list[splice.Span], Path]:
    source = splice.layout(clip)
    assert source is not None
    spans = source.spans(changed)
    edited = _paint(splice.decode(spans, source))
    encoded = {}
    for span in spans:
        encoded[span] = splice.encode(
            (next(edited) for _ in range(span.end - span.start)), span, source, out / str(span.start)
        )
    return source, spans, splice.splice(source, encoded, out / "spliced.mp4")


def test_spans_run_from_a_clean_cut_to_the_next_idr(clip):
    source = splice.layout(clip)
    assert source is not None and source.profile == "high"
    assert np.flatnonzero(source.idr).tolist() == [0, 20, 40]
    assert not np.array_equal(source.pts, np.sort(source.pts))  # B-frames: decode order is not display order
    (span,) = source.spans([25, 28, 30])
    assert span.decode_from == 20 and span.end == 40 and 20 <= span.start <= 25
    assert source.clean[span.start] and source.clean[span.end]
    assert [(s.start >= 40, s.end) for s in source.spans([5, 45])] == [(False, 20), (True, 60)]
    assert source.spans([]) == []


def test_only_the_spans_change_and_timing_is_kept(clip, tmp_path):
    """Outside the spans, frames and packets are bit-identical; inside, unchanged pixels are the input re-encoded
    once (PSNR >= 45 dB on the YUV planes, as video PSNR is usually taken); timing is the source's."""
    import av

    source, spans, out = _spliced(clip, tmp_path, [25, 26, 27, 28, 29, 30])
    inside = {i for span in spans for i in range(span.start, span.end)}
    before, after = list(media.video_frames(clip)), list(media.video_frames(out))
    assert [f.time_s for f in after] == [f.time_s for f in before]  # variable frame rate kept
    outside = np.ones(SIZE[::-1], bool)
    outside[BOX] = False
    for old, new, old_planes, new_planes in zip(before, after, _planes(clip), _planes(out), strict=True):
        if new.index not in inside:
            assert np.array_equal(old.rgb, new.rgb), new.index  # bit-identical
            continue
        assert _psnr(old_planes[0][outside], new_planes[0][outside]) >= 45.0, new.index
        assert _psnr(old_planes[1], new_planes[1]) >= 40.0 or 25 <= new.index <= 30  # chroma holds the red box
        painted = new.rgb[BOX].astype(int)
        if 25 <= new.index <= 30:
            assert painted[..., 0].mean() > 230 and painted[..., 1].mean() < 50
        else:
            assert _psnr(old.rgb[BOX], new.rgb[BOX]) >= 40.0  # predicted from the painted pictures, undone
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        original = [(p.pts, bytes(p)) for p in a.demux(a.streams.video[0]) if p.size]
        spliced = [(p.pts, bytes(p)) for p in b.demux(b.streams.video[0]) if p.size]
    untouched = [p for i, p in enumerate(original) if not any(s.start <= i < s.end for s in spans)]
    assert [p for p in spliced if p in untouched] == untouched  # copied packets, byte for byte


def _planes(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Luma and the two chroma planes (stacked) of every frame, as decoded."""
    import av

    with av.open(str(path)) as container:
        stacked = [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]
    return [(planes[: SIZE[1]], planes[SIZE[1] :]) for planes in stacked]


def test_frames_of_decode_match_a_plain_decode(clip):
    source = splice.layout(clip)
    spans = source.spans([3, 47])
    plain = {f.index: f for f in media.video_frames(clip)}
    decoded = list(splice.decode(spans, source))
    assert [f.index for f in decoded] == [i for s in spans for i in range(s.start, s.end)]
    for frame in decoded:
        assert frame.time_s == plain[frame.index].time_s and np.array_equal(frame.rgb, plain[frame.index].rgb)
        assert frame.planes is not None and frame.planes.shape == (SIZE[1] * 3 // 2, SIZE[0])


def test_streams_that_cannot_be_spliced_are_refused(tmp_path):
    assert splice.layout(_encode(tmp_path / "mpeg4.mp4", codec="mpeg4", frames=10)) is None


def test_decoder_records_round_trip_and_take_a_free_id(clip):
    import av

    with av.open(str(clip)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    record = h264.DecoderRecord.parse(extradata)
    assert record.to_bytes() == extradata and record.length_size == 4
    assert [h264.sps_id(s) for s in record.sps] == [0] and record.free_id() == 1
    grown = h264.DecoderRecord.parse(record.with_sets([record.sps[0]], [record.pps[0]]).to_bytes())
    assert len(grown.sps) == len(grown.pps) == 2 and grown.tail == record.tail


def test_annex_b_and_length_prefixed_units():
    units = [b"\x67\x64\x00\x1f", b"\x68\xee", b"\x65\x88\x00\x00\x03\x01"]
    assert h264.annex_b(b"\x00\x00\x00\x01" + b"\x00\x00\x01".join(units)) == units
    assert list(h264.length_prefixed(h264.to_length_prefixed(units, 4), 4)) == units
    assert h264.is_idr(h264.to_length_prefixed(units, 2), 2)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_re_encoded_pictures_keep_the_sources_colour_signalling(tmp_path):
    """A BT.709 limited-range source stays BT.709 limited range, spliced (H.264: its spans' parameter sets say so)
    or re-encoded whole (other codecs): a player converting it to RGB must see the colours of the source."""
    import av

    from dubkit import media

    tags = "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv"
    h264 = _encode(tmp_path / "source.mp4", frames=30, options={"x264-params": f"keyint=20:{tags}"})
    assert splice.layout(h264).colour == tags
    assert splice.layout(_encode(tmp_path / "untagged.mp4", frames=30)).colour == ""
    source = _tagged_mpeg4(tmp_path / "tagged.mp4")
    result = splice.reencode(source, _paint(media.video_frames(source, planes=True)), tmp_path / "whole.mp4")
    with av.open(str(result)) as container:
        context = container.streams.video[0].codec_context
        frames = list(container.decode(video=0))
    assert (int(context.color_primaries), int(context.color_trc), int(context.colorspace)) == (1, 1, 1)
    assert {int(frame.color_range) for frame in frames} == {1}


def _tagged_mpeg4(path: Path) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = 1, 1, 1, 1
        for index in range(30):
            picture = av.VideoFrame.from_ndarray(_picture(index)[:48, :64], format="rgb24")
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path
