"""Build the demo episode from material that ships in packages (nothing is committed or downloaded): a short
vertical Mandarin drama scene with its Chinese subtitles burned into the picture, as the catalog's episodes arrive.

Picture: the astronaut portrait from scikit-image (NASA, public domain), on a 9:16 frame.
Dialogue: a real Mandarin reading shipped in the f5-tts wheel (`f5_tts/infer/examples/basic/basic_ref_zh.wav`,
installed without its dependencies by `make setup`), "对，这就是我，万人敬仰的太乙真人。".
Subtitles: that line as two cues, split at the pause between its phrases, drawn white with a black outline
(Debian's WenQuanYi Zen Hei) over the lower picture, as microdramas burn them in.
Bed: a quiet synthesized pad under the speech, so the dub's music & effects track has something to keep.

    python samples/make_sample.py samples/build/demo.mp4
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dubkit import audio, media  # noqa: E402

RATE = 48000
FPS = 25
SIZE = (720, 1280)
LEAD_S, TAIL_S = 0.8, 1.2  # silence before and after the line
CUES = ("对，这就是我", "万人敬仰的太乙真人")  # the line's two phrases, as its subtitles show them
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian fonts-wqy-zenhei
FONT_PX, TEXT_Y = 46, 0.72  # the subtitles' size and where their centre lies (share of the height): on the picture
WINDOW_S = 0.02  # loudness is judged over windows this long to find the pauses between the phrases
COMMA_PAUSE_S = 0.2  # a pause this long is the reader's comma


def mandarin_reading() -> Path:
    spec = importlib.util.find_spec("f5_tts")
    locations = list(spec.submodule_search_locations or []) if spec else []
    clip = Path(locations[0]) / "infer" / "examples" / "basic" / "basic_ref_zh.wav" if locations else None
    if clip is None or not clip.is_file():
        sys.exit("no Mandarin reading: pip install --no-deps f5-tts==1.1.22 (make setup does)")
    return clip


def dialogue() -> np.ndarray:
    samples, rate = audio.read_wav(mandarin_reading())
    speech = audio.resample(audio.to_mono(samples), rate, RATE)
    lead, tail = np.zeros(int(LEAD_S * RATE), np.float32), np.zeros(int(TAIL_S * RATE), np.float32)
    return np.concatenate([lead, speech, tail])


def cue_times(speech: np.ndarray) -> list[tuple[float, float]]:
    """(start s, end s) of each cue: the speech's span split at the pause after "这就是我" (the reader pauses at
    each comma: the second pause of at least `COMMA_PAUSE_S` ends the first cue)."""
    window = int(WINDOW_S * RATE)
    levels = np.sqrt(np.mean(speech[: len(speech) // window * window].reshape(-1, window) ** 2, axis=1))
    loud = levels > levels.max() * 0.05
    first, last = int(np.argmax(loud)), len(loud) - int(np.argmax(loud[::-1]))
    pauses: list[tuple[int, int]] = []  # (length, middle) of each quiet run inside the speech
    run_start = None
    for index in range(first, last):
        if not loud[index] and run_start is None:
            run_start = index
        elif loud[index] and run_start is not None:
            pauses.append((index - run_start, (run_start + index) // 2))
            run_start = None
    split = [middle for length, middle in pauses if length * WINDOW_S >= COMMA_PAUSE_S][1]
    return [(first * WINDOW_S - 0.1, split * WINDOW_S), (split * WINDOW_S + 0.04, last * WINDOW_S + 0.3)]


def frame(text: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont
    from skimage import data

    picture = Image.new("RGB", SIZE, (18, 18, 24))
    face = Image.fromarray(data.astronaut()).resize((SIZE[0], SIZE[0]))
    picture.paste(face, (0, (SIZE[1] - SIZE[0]) // 2))
    if text:
        if not FONT.is_file():
            sys.exit(f"{FONT}: no CJK font (apt-get install fonts-wqy-zenhei)")
        font = ImageFont.truetype(str(FONT), FONT_PX)
        where = (SIZE[0] / 2, SIZE[1] * TEXT_Y)
        draw = ImageDraw.Draw(picture)
        draw.text(where, text, font=font, fill="white", anchor="mm", stroke_width=3, stroke_fill="black")
    return np.asarray(picture)


def pad(length: int) -> np.ndarray:
    """A soft A-minor pad with a slow swell, about 20 dB under the speech."""
    t = np.arange(length) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63, 440.0))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 7.0)
    return (0.012 * chord * swell).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    speech = dialogue()
    spans = cue_times(speech)
    pictures = {text: frame(text) for text in ("", *CUES)}
    count = int(len(speech) / RATE * FPS)
    shown = [next((t for t, (a, b) in zip(CUES, spans, strict=True) if a <= i / FPS < b), "") for i in range(count)]
    soundtrack = np.stack([speech + pad(len(speech))] * 2, axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        wav, silent = Path(tmp) / "soundtrack.wav", Path(tmp) / "picture.mp4"
        audio.write_wav(wav, soundtrack, RATE)
        media.write_video((pictures[text] for text in shown), silent, FPS)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        media.mux(silent, wav, args.out, "zho")
    cues = ", ".join(f"{a:.2f}-{b:.2f} s {text}" for text, (a, b) in zip(CUES, spans, strict=True))
    print(f"{args.out}: {len(speech) / RATE:.1f} s demo episode, subtitles burned in: {cues}")


if __name__ == "__main__":
    main()
