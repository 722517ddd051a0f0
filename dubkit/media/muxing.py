"""MP4s assembled by ffmpeg from files: a picture with a new sound track (`mux`), a still image over a sound
(`still_video`), clips joined end to end (`concat`). The audio is always AAC 48 kHz 192k."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from dubkit.media import ffmpeg
from dubkit.media.audio import resample_filter
from dubkit.media.probing import MediaInfo, probed_input

AAC_OUT = ("-c:a", "aac", "-b:a", "192k", "-ar", "48000")
_MP4_OUT = ("-movflags", "+faststart")
_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p")


def mux(video_src: Path, audio_wav: Path, out: Path, language: str, duration_s: float | None = None) -> Path:
    """MP4 with *video_src*'s first video stream copied untouched and *audio_wav* as AAC 48 kHz 192k.

    *language* is an ISO 639-2 code (e.g. "spa"). The audio is padded/trimmed to *duration_s*
    (default: the source's duration); an audio-only source gives an audio-only MP4.
    """
    if not re.fullmatch(r"[a-z]{3}", language):
        raise ValueError(f"language must be an ISO 639-2 code such as 'spa', not {language!r}")
    video, video_args = probed_input(video_src)
    _, audio_args = probed_input(audio_wav, need="audio")
    total = video.duration_s if duration_s is None else float(duration_s)
    maps = ["-map", "0:v:0", "-c:v", "copy"] if video.has_video else []
    if video.has_video and total < video.duration_s - 1e-3:
        maps += ["-t", f"{total:.6f}"]
    chain = f"{resample_filter(48000)},apad=whole_dur={total:.6f},atrim=end={total:.6f}"
    audio = ["-map", "1:a:0", "-af", chain, *AAC_OUT, "-metadata:s:a:0", f"language={language}"]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*video_args, *audio_args, *maps, *audio, *_MP4_OUT, *ffmpeg.output_args(tmp, "mp4")], video.path)
    return Path(out)


def still_video(image: Path, audio: Path, out: Path, fps: int = 25, size: tuple[int, int] | None = None) -> Path:
    """An H.264 + AAC MP4 showing *image* for the whole length of *audio*."""
    loop = ("-loop", "1", "-framerate", str(fps), "-pattern_type", "none")
    _, image_args = probed_input(image, allow_image=True, pre=loop)
    sound, audio_args = probed_input(audio, need="audio")
    scale = f"scale={size[0]}:{size[1]}" if size else "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    video = ["-map", "0:v:0", "-vf", f"{scale},setsar=1", *_X264, "-tune", "stillimage", "-r", str(fps)]
    sound_out = ["-map", "1:a:0", "-af", resample_filter(48000), *AAC_OUT, "-t", f"{sound.duration_s:.6f}"]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*image_args, *audio_args, *video, *sound_out, *_MP4_OUT, *ffmpeg.output_args(tmp, "mp4")], audio)
    return Path(out)


def concat(inputs: Sequence[Path], out: Path, width: int, height: int, fps: float = 25.0) -> Path:
    """Join clips into one H.264 + AAC (48 kHz stereo) MP4, each scaled and padded to width x height."""
    if not inputs:
        raise ValueError("concat needs at least one input")
    args: list[str] = []
    parts: list[str] = []
    for index, path in enumerate(inputs):
        info, clip_args = probed_input(path, need="video")
        args += clip_args
        parts.append(_concat_part(index, info, width, height, fps))
    labels = "".join(f"[v{i}][a{i}]" for i in range(len(inputs)))
    graph = ";".join(parts) + f";{labels}concat=n={len(inputs)}:v=1:a=1[v][a]"
    encode = ["-filter_complex", graph, "-map", "[v]", "-map", "[a]", *_X264, *AAC_OUT, *_MP4_OUT]
    with ffmpeg.output(out) as tmp:
        ffmpeg.run([*args, *encode, *ffmpeg.output_args(tmp, "mp4")], Path(out))
    return Path(out)


def _concat_part(index: int, info: MediaInfo, width: int, height: int, fps: float) -> str:
    """Filter chains giving clip *index* a common size/rate and an audio track of the same length."""
    span = f"{info.duration_s:.6f}"
    video = (
        f"[{index}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p,"
        f"trim=end={span},setpts=PTS-STARTPTS[v{index}]"
    )
    source = f"[{index}:a:0]{resample_filter(48000)}" if info.has_audio else f"aevalsrc=0:s=48000:d={span}"
    audio = (
        f"{source},aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_dur={span},"
        f"atrim=end={span},asetpts=PTS-STARTPTS[a{index}]"
    )
    return f"{video};{audio}"
