"""Voice-cloning consent and model licences: checked in the run's plan, before any work and before weights."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import msgspec
import pytest

from localize.backends import licence_of
from localize.core import models
from localize.core.consent import check_consent, check_voice_consent
from localize.core.errors import ConfigError
from localize.core.markets import load_markets
from localize.core.options import RunOptions
from localize.run import _plan
from localize.stages.voice.references import require_consent
from tests.conftest import SAMPLE, shared_media

TODAY = dt.date(2026, 11, 23)
CLIP = "speech/en/jfk.flac"  # 11 s of one real speaker


def _record(tmp_path: Path, *, sha: str = "", character: str = "", markets: str = '["*"]',
            name: str = "voice.toml") -> Path:
    path = tmp_path / name
    what = f'voice_sha256 = "{sha}"\n' if sha else f'character = "{character}"\n' if character else ""
    path.write_text(f'{what}subject = "John Doe"\ngranted_by = "John Doe"\ngranted = 2026-01-01\n'
                    f'[scope]\nseries = ["drama"]\nmarkets = {markets}\npurpose = "dubbed release"\n',
                    encoding="utf-8")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_voice_record_covers_its_clip_or_its_character(tmp_path: Path) -> None:
    clip = shared_media(CLIP)
    got = check_voice_consent(character="SPEAKER_00", clip=clip, record=_record(tmp_path, sha=_sha(clip)),
                              series="drama", market="en-US", today=TODAY)
    assert (got.kind, got.voice_sha256, got.subject) == ("voice", _sha(clip), "John Doe")
    named = _record(tmp_path, character="Ana", name="ana.toml")
    assert check_voice_consent(character="C01", names=("C01", "Ana"), clip=None, record=named, series="drama",
                               market="en-US", today=TODAY).voice == ""
    with pytest.raises(ConfigError, match=r"consent for character 'Ana', not 'C02'"):
        check_voice_consent(character="C02", names=("C02", "Bo"), clip=None, record=named, series="drama",
                            market="en-US", today=TODAY)


def test_voice_record_refuses_another_clip_no_clip_or_nothing_named(tmp_path: Path) -> None:
    clip = shared_media(CLIP)
    other = _record(tmp_path, sha="0" * 64)
    with pytest.raises(ConfigError, match=r"does not match .*jfk.flac"):
        check_voice_consent(character="SPEAKER_00", clip=clip, record=other, series="drama", market="en-US",
                            today=TODAY)
    with pytest.raises(ConfigError, match=r"has none and would be cloned from the source's speech"):
        check_voice_consent(character="SPEAKER_00", clip=None, record=other, series="drama", market="en-US",
                            today=TODAY)
    with pytest.raises(ConfigError, match=r"names no voice"):
        check_voice_consent(character="SPEAKER_00", clip=clip, record=_record(tmp_path), series="drama",
                            market="en-US", today=TODAY)
    with pytest.raises(ConfigError, match=r"does not include market 'pt-BR'"):
        check_voice_consent(character="SPEAKER_00", clip=clip, record=_record(tmp_path, sha=_sha(clip),
                                                                              markets='["en-US"]'),
                            series="drama", market="pt-BR", today=TODAY)


def test_a_voice_record_is_no_face_consent(tmp_path: Path) -> None:
    face = tmp_path / "face.png"
    face.write_bytes(b"face bytes")
    with pytest.raises(ConfigError, match=r"names no face"):
        check_consent(character="SPEAKER_00", face=face, record=_record(tmp_path, character="SPEAKER_00"),
                      series="drama", market="en-US", today=TODAY)


def _xtts(tmp_path: Path, **kw: object) -> RunOptions:
    return RunOptions(tts_backend="xtts", series="drama", cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def test_cloning_without_consent_is_refused_before_the_weights(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LOCALIZE_XTTS_MODEL", raising=False)  # no weights here: that error must come second
    with pytest.raises(ConfigError, match=r"'xtts' clones every character's voice .* --voice-consent"):
        _plan(SAMPLE, ["en-US"], _xtts(tmp_path))
    clip = shared_media(CLIP)
    with pytest.raises(ConfigError, match=r"clone the voice of SPEAKER_00 from the clip .*jfk.flac without consent"):
        _plan(SAMPLE, ["en-US"], _xtts(tmp_path, references=(("SPEAKER_00", clip),),
                                       voice_consent=(("SPEAKER_01", _record(tmp_path, character="SPEAKER_01")),)))
    # With consent for the clip, the plan goes on to the weights, which are missing here.
    consent = (("SPEAKER_00", _record(tmp_path, sha=_sha(clip))),)
    with pytest.raises(ConfigError, match=r"no usable voice for market en-US .*xtts.*LOCALIZE_XTTS_MODEL"):
        _plan(SAMPLE, ["en-US"], _xtts(tmp_path, references=(("SPEAKER_00", clip),), voice_consent=consent))


def test_non_cloning_backend_needs_no_consent(tmp_path: Path) -> None:
    plan = _plan(SAMPLE, ["en-US"], RunOptions(tts_backend="espeak", cache_dir=tmp_path / "cache"))
    assert plan.voice_consent == {} and "AI voice clone" not in plan.markets[0].ai_label.text


def test_speakers_found_later_need_consent_too() -> None:
    require_consent(None, ["SPEAKER_00"], "en-US", "piper")  # not cloning: nothing asked
    with pytest.raises(ConfigError, match=r"clone the voice of SPEAKER_01 from their speech in the source"):
        require_consent({"SPEAKER_00": object()}, ["SPEAKER_00", "SPEAKER_01"], "en-US", "xtts")  # type: ignore[dict-item]


def test_every_manifest_model_states_its_licence_and_commercial_use() -> None:
    for e in models.manifest().values():
        assert e.licence and isinstance(e.commercial, bool), e.id
    assert models.entry("xtts-v2").commercial is False and models.entry("dlib-face-models").commercial is False
    assert models.entry("wav2lip-onnx").commercial is False and models.entry("kokoro-82m-int8").commercial is True
    assert models.entry("whisper-base").commercial is True


def _markets_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "markets.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_commercial_market_refuses_non_commercial_weights(tmp_path: Path) -> None:
    lips = _markets_file(tmp_path, '[xx-US]\nname = "commercial lips"\nlanguage = "en"\ntts = ["espeak"]\n'
                                   'voices = { espeak = "en-us" }\ncommercial = true\n'
                                   '[xx-US.picture]\nlip_align = true\nlip_mouth = "dlib"\n')
    options = RunOptions(markets_files=(lips,), cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"commercial release.*'dlib-face-models' under iBUG 300-W NON-COMMERCIAL"):
        _plan(SAMPLE, ["xx-US"], options)
    with pytest.raises(ConfigError, match=r"commercial release.*'xtts-v2' under Coqui Public Model License"):
        _plan(SAMPLE, ["en-US"], RunOptions(tts_backend="xtts", commercial=True, cache_dir=tmp_path / "cache"))
    # The same market, not commercial, plans (lip alignment with dlib is allowed for non-commercial work).
    plain = _markets_file(tmp_path, lips.read_text().replace("commercial = true\n", ""))
    assert _plan(SAMPLE, ["xx-US"], RunOptions(markets_files=(plain,), cache_dir=tmp_path / "cache")).markets


def test_commercial_uses_and_licences_of_a_market() -> None:
    market = msgspec.structs.replace(load_markets()["en-US"], tts=("kokoro",))
    uses = models.market_uses(market, RunOptions(commercial=True))
    models.check_commercial(market, RunOptions(commercial=True))  # kokoro, whisper, resemblyzer, rapidocr: allowed
    assert "whisper-base: MIT" in models.licences(list(uses))
    assert licence_of("tts", "xtts")[1] is False and licence_of("tts", "kokoro")[1] is True
    assert licence_of("translate", "openai")[1] is None  # a service: its own terms


def test_backends_json_lists_licences() -> None:
    from click.testing import CliRunner

    from localize.apps.cli import main

    result = CliRunner().invoke(main, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(b["stage"], b["name"]): b for b in json.loads(result.output)}
    assert "Coqui Public Model License" in rows[("tts", "xtts")]["licence"]
    assert rows[("tts", "xtts")]["commercial"] is False and rows[("asr", "faster-whisper")]["commercial"] is True


def test_a_commercial_release_leaves_non_commercial_voices_out_of_auto(tmp_path: Path) -> None:
    """en-US's "auto" leads with Piper's joe (non-commercial: fine-tuned from lessac); a commercial release
    must not cast it for anyone, and a market that names it explicitly is refused with its licence."""
    cache = tmp_path / "cache"
    plain = _plan(SAMPLE, ["en-US"], RunOptions(cache_dir=cache)).voices["en-US"]
    assert "piper" in [s.name for s, _ in plain.backends]
    sold = _plan(SAMPLE, ["en-US"], RunOptions(commercial=True, cache_dir=cache)).voices["en-US"]
    names = [s.name for s, _ in sold.backends]
    assert "piper" not in names and names[0] == "kokoro"
    named = _markets_file(tmp_path, '[xx-US]\nname = "piper named"\nlanguage = "en"\ntts = ["piper", "kokoro"]\n'
                                    'voices = { piper = "en_US-joe-medium", kokoro = "en-us/jf_alpha" }\n'
                                    'commercial = true\n')
    with pytest.raises(ConfigError, match=r"commercial release.*piper"):
        _plan(SAMPLE, ["xx-US"], RunOptions(markets_files=(named,), cache_dir=cache))


def test_a_cloning_backend_speaking_its_own_named_voice_needs_no_consent(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Kokoro-FastAPI's 'af_bella' through openai-speech imitates nobody; its 'clone' voice (or any reference
    clip given to the run) imitates the actor and needs a record."""
    from localize.stages.voice.references import cloning_consent

    monkeypatch.setenv("LOCALIZE_SPEECH_BASE_URL", "http://127.0.0.1:9/v1")
    body = '[xx-US]\nname = "served"\nlanguage = "en"\ntts = ["openai-speech"]\nvoices = {{ openai-speech = "{}" }}\n'
    options = RunOptions(cache_dir=tmp_path / "cache")
    named = load_markets(_markets_file(tmp_path, body.format("af_bella+af_sky?speed=1.1")))["xx-US"]
    assert cloning_consent(named, options, {}) is None
    with pytest.raises(ConfigError, match="would clone the voice of SPEAKER_00 from the clip"):
        cloning_consent(named, options, {"SPEAKER_00": tmp_path / "ana.wav"})  # a reference clip: cloning
    clone = load_markets(_markets_file(tmp_path, body.format("clone?model=tts-1")))["xx-US"]
    with pytest.raises(ConfigError, match="--voice-consent"):
        cloning_consent(clone, options, {})
