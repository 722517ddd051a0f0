"""The presets (`pipelines/*.toml`) and voice profiles (`voices/*.toml`) that dubkit ships. They live inside the
package, listed as package data in pyproject.toml, so that an installed wheel carries them as well as a checkout.

Callers need real file paths (a preset's path anchors its relative glossary and names it in errors), and
setuptools installs a package unpacked, so the paths are taken from this package's own folder.
"""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
PIPELINES_DIR = DATA_DIR / "pipelines"
VOICES_DIR = DATA_DIR / "voices"
