"""`import dubkit` and `dubkit --help` must not load model libraries."""

import subprocess
import sys

HEAVY = [
    "torch", "transformers", "onnxruntime", "ctranslate2", "faster_whisper", "TTS", "whisper", "ray", "resemblyzer",
    "librosa", "openai", "llama_cpp",
]  # fmt: skip

PROBE = """
import sys, runpy
sys.argv = ["dubkit", "--help"]
import dubkit, dubkit.cli
try:
    dubkit.cli.main()
except SystemExit:
    pass
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_import_and_help_load_no_model_library():
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, check=True)
    assert "translate" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
