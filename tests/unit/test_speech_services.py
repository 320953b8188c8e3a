"""The speech-service backends' pieces that need no server: the protocol, voices with settings, the
configuration's variables, and error messages from the services' error shapes."""

from __future__ import annotations

import inspect

import httpx
import pytest

from localize.core.errors import ConfigError
from localize.core.http import error_detail
from localize.stages.voice.tts import SYNTHESIZERS
from localize.stages.voice.tts import elevenlabs as el
from localize.stages.voice.tts import openai_speech as oa
from localize.stages.voice.tts.service import ServiceVoice


@pytest.mark.parametrize("name", ["openai-speech", "elevenlabs"])
def test_each_service_backend_declares_the_protocol(name: str) -> None:
    cls = SYNTHESIZERS.load(name)
    assert cls.name == name
    for attr in ("clones", "expressive"):
        assert isinstance(vars(cls)[attr], bool)
    assert cls.clones is True and cls.expressive is False  # both clone: the consent check applies to them
    params = inspect.signature(cls.synthesize).parameters
    assert params["reference"].kind is inspect.Parameter.KEYWORD_ONLY and params["reference"].default is None


def test_a_voice_carries_its_settings() -> None:
    v = ServiceVoice.parse("clone?stability=0.4&model=eleven_turbo_v2_5", "elevenlabs", el.SETTINGS)
    assert v.clones and v.name == "clone" and v.get("model") == "eleven_turbo_v2_5"
    assert v.number("stability", "elevenlabs") == 0.4
    assert v.named("abc123") == "abc123?model=eleven_turbo_v2_5&stability=0.4"
    assert ServiceVoice.parse("af_bella+af_sky", "openai-speech", oa.SETTINGS).name == "af_bella+af_sky"
    with pytest.raises(ConfigError, match="unknown setting 'pitch'"):
        ServiceVoice.parse("v?pitch=2", "openai-speech", oa.SETTINGS)
    with pytest.raises(ConfigError, match="names no voice"):
        ServiceVoice.parse("?model=x", "openai-speech", oa.SETTINGS)
    with pytest.raises(ConfigError, match="stability='high' is not a number"):
        ServiceVoice.parse("v?stability=high", "elevenlabs", el.SETTINGS).number("stability", "elevenlabs")


def test_configuration_comes_from_the_environment_only() -> None:
    cfg = oa.config_from_env({"LOCALIZE_SPEECH_BASE_URL": "http://gpu:8880/v1/", "OPENAI_API_KEY": "k1",
                              "LOCALIZE_SPEECH_MODEL": "kokoro"})
    assert (cfg.base_url, cfg.api_key, cfg.model) == ("http://gpu:8880/v1", "k1", "kokoro")
    assert oa.config_from_env({}).model == "tts-1"
    cfg = el.config_from_env({"ELEVENLABS_API_KEY": "k2", "LOCALIZE_ELEVENLABS_API_KEY": "k3"})
    assert (cfg.base_url, cfg.api_key, cfg.model) == ("https://api.elevenlabs.io", "k3", "eleven_multilingual_v2")
    headers = el.ElevenLabsSynthesizer(cfg)._headers()
    assert headers["xi-api-key"] == "k3" and "Authorization" not in headers


@pytest.mark.parametrize(("body", "detail"), [
    ({"detail": {"status": "voice_not_found", "message": "A voice with the voice_id x was not found."}},
     "A voice with the voice_id x was not found."),  # ElevenLabs
    ({"error": {"message": "Voice 'x' not found"}}, "Voice 'x' not found"),  # OpenAI
    ({"detail": "Not Found"}, "Not Found"),  # FastAPI
])
def test_error_detail_reads_each_services_shape(body: dict, detail: str) -> None:
    assert error_detail(httpx.Response(404, json=body)) == detail


def test_the_cast_keeps_the_voice_a_service_made_for_a_clone() -> None:
    from localize.core.artifacts import Cast, Character, DubLine, DubTrack
    from localize.stages.script.speakers.cast import CastRegistry
    from localize.stages.voice.stage import _keep_made_voices

    def character(cid: str, voices: dict[str, str]) -> Character:
        return Character(id=cid, name=cid, embedding=(1.0,), voices=voices, episodes=(), lines=1)

    def line(lid: str, voice: str) -> DubLine:
        return DubLine(id=lid, slot_start_ms=0, slot_end_ms=1000, dub_start_ms=0, dub_end_ms=900, natural_ms=900,
                       speed=1.0, overflow_ms=0, clip=f"{lid}.wav", voice=voice)

    registry = CastRegistry(Cast(series="s", characters=(
        character("A", {"elevenlabs": "clone?model=m"}), character("B", {"piper": "en_US-joe-medium"}),
        character("C", {"elevenlabs": "clone"}), character("D", {"xtts": "en/clone"}))))
    # The market's lead backend is piper; A and C speak through elevenlabs (a reviewer re-voiced one of A's lines).
    track = DubTrack(language="en", backend="piper", voice="en_US-joe-medium", sample_rate=48000, max_speed=1.25,
                     lines=(line("L1", "elevenlabs:v1?model=m"), line("L2", "elevenlabs:v1?model=m"),
                            line("L3", "elevenlabs:reviewers"), line("L4", "en_US-joe-medium"),
                            line("L5", "elevenlabs:v2"), line("L6", "xtts:en/clone")))
    speaker = {"L1": "A", "L2": "A", "L3": "A", "L4": "B", "L5": "C", "L6": "D"}
    _keep_made_voices(registry, speaker, track)
    kept = {c.id: c.voices for c in registry.characters}
    assert kept["A"] == {"elevenlabs": "v1?model=m"}  # the voice most of their lines were spoken in
    assert kept["C"] == {"elevenlabs": "v2"}
    assert kept["B"] == {"piper": "en_US-joe-medium"} and kept["D"] == {"xtts": "en/clone"}  # untouched
