"""Build the demo episode from material that ships in packages (nothing is committed or downloaded).

Picture: the astronaut portrait from scikit-image (NASA, public domain), on a 9:16 frame.
Dialogue: five real LibriVox readings from Debian's `pocketsphinx-testdata` (public domain).
Bed: a quiet synthesized pad under the speech, so the dub's music & effects track has something to keep.

    python samples/make_sample.py samples/build/demo.mp4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dubkit import audio, media  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
RATE = 48000
GAP_S = 0.9
SIZE = (720, 1280)


def dialogue() -> np.ndarray:
    clips = sorted(LIBRIVOX.glob("*.wav"))
    if not clips:
        sys.exit(f"{LIBRIVOX}: no LibriVox clips (apt-get install pocketsphinx-testdata)")
    gap = np.zeros(int(GAP_S * RATE), dtype=np.float32)
    parts = [gap]
    for clip in clips:
        samples, rate = audio.read_wav(clip)
        parts += [audio.resample(audio.to_mono(samples), rate, RATE), gap]
    return np.concatenate(parts)


def pad(length: int) -> np.ndarray:
    """A soft A-minor pad with a slow swell, about 20 dB under the speech."""
    t = np.arange(length) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63, 440.0))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 7.0)
    return (0.012 * chord * swell).astype(np.float32)


def portrait(path: Path) -> None:
    from PIL import Image
    from skimage import data

    frame = Image.new("RGB", SIZE, (18, 18, 24))
    face = Image.fromarray(data.astronaut()).resize((SIZE[0], SIZE[0]))
    frame.paste(face, (0, (SIZE[1] - SIZE[0]) // 2))
    frame.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    speech = dialogue()
    soundtrack = np.stack([speech + pad(len(speech))] * 2, axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        wav, png = Path(tmp) / "soundtrack.wav", Path(tmp) / "portrait.png"
        audio.write_wav(wav, soundtrack, RATE)
        portrait(png)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        media.still_video(png, wav, args.out, fps=25)
    print(f"{args.out}: {len(speech) / RATE:.1f} s demo episode")


if __name__ == "__main__":
    main()
