"""Media I/O: the only package that opens containers (PyAV) or runs ffmpeg (through `dubkit.media.ffmpeg`).

What lives where: `probing` (the container whitelist, `probe` and `MediaInfo`, inputs opened for PyAV or ffmpeg),
`video` (pictures decoded to RGB `Frame`s and encoded back), `audio` (extract, decode, resample, time-stretch),
`loudness` (EBU R128 measurement and normalisation), `muxing` (MP4s assembled from files: mux, still, concat),
`delivery` (the deliverables: picture, language-tagged tracks, subtitles, tags), `splice` and `h264` (H.264
re-encoded only where pictures changed), `labels` (AI-generated-content tags) and `ffmpeg` (the runner). Every
input is probed first and must be a local file in a whitelisted container format; outputs are written to a
temporary sibling and renamed. Failures raise `MediaError(path, cause)`. This module re-exports what callers use
as `media.X`; code inside the package imports from the module that owns a name.
"""

from dubkit.media.audio import decode_audio, extract_audio, time_stretch
from dubkit.media.loudness import Loudness, measure_loudness, normalize_loudness
from dubkit.media.muxing import concat, mux, still_video
from dubkit.media.probing import CONTAINERS, IMAGES, MediaInfo, open_input, origin_s, probe, stream_durations
from dubkit.media.video import Frame, sampled_frames, video_frames, video_span, write_video

# The code identity of the facade's modules (probing, video, audio, loudness, muxing) in cache keys: bump when a
# change there changes the bytes of a cache entry (see dubkit.cache).
VERSION = 1

__all__ = [
    "CONTAINERS",
    "IMAGES",
    "Frame",
    "Loudness",
    "MediaInfo",
    "concat",
    "decode_audio",
    "extract_audio",
    "measure_loudness",
    "mux",
    "normalize_loudness",
    "open_input",
    "origin_s",
    "probe",
    "sampled_frames",
    "still_video",
    "stream_durations",
    "time_stretch",
    "video_frames",
    "video_span",
    "write_video",
]
