"""The shared recordings by path (a test skips when they are absent) and clips derived from them."""

from __future__ import annotations

from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def real(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared media absent: {path}")
    return path


def rotated_copy(source: Path, out: Path, degrees: int = 90) -> Path:
    """*source*'s video packets, untouched, in an MP4 whose display matrix rotates them (as a phone writes)."""
    import av

    with av.open(str(real(source))) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        stream.set_display_rotation(degrees)
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return out


def remuxed(source: Path, out: Path, muxer: str, streams: tuple[str, ...] = ("v", "a")) -> Path:
    """*source*'s packets of the given stream kinds, untouched, in another container (ffmpeg's stream copy): an
    MPEG-TS starts its clock at 1.4 s; a stream copied alone starts its container where it starts."""
    from dubkit.media import ffmpeg

    maps = [arg for kind in streams for arg in ("-map", f"0:{kind}:0")]
    ffmpeg.run([*ffmpeg.input_args(real(source)), *maps, "-c", "copy", *ffmpeg.output_args(out, muxer)], out)
    return out
