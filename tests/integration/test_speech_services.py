"""The speech-service TTS backends (openai-speech, elevenlabs) dub a whole episode over HTTP.

The servers are local stand-ins on 127.0.0.1 (tests/support/speech_servers.py) that speak with Piper's
packaged voice, pitch-shifted per voice id, with injected 429/500 faults. The episode is the Mandarin
sample (samples/episode_zh.mp4: 5 lines, two speakers) with its English translation from its truth file;
the voice stage runs as the pipeline runs it (casting from a series cast, dub, the cast keeping what the
dub made), and the dub is transcribed back by Whisper base.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import msgspec
import pytest
import soundfile as sf

from localize.core.cache import ArtifactStore
from localize.core.errors import ConfigError, LocalizeError, ToolFailedError, UnknownNameError
from localize.core.markets import get_market, load_markets
from localize.stages.voice.stage import Voice, choose_voice
from localize.stages.voice.tts import SYNTHESIZERS
from localize.stages.voice.tts import elevenlabs as el
from localize.stages.voice.tts import openai_speech as oa
from tests.support.dub_episode import back_wer, dub_episode, load_episode, make_cast
from tests.support.speech_servers import ElevenLabsServer, OpenAISpeechServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-speech-test-7f3a9c"
SARAH = "EXAVITQu4vr4xnVydUG1"
FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}
# The stand-ins' voices are Piper shifted up to 1.7x, then the dub's own shift toward the actor (up to 4
# semitones): Whisper base hears the sample's 5 lines at WER 0.31 (2026-12-06); a silent, noisy or
# misplaced clip scores near 1.0. The bar is on the HTTP path carrying real speech, not on voice quality.
WER_MAX = 0.45


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("episode")
    return load_episode(ROOT / "samples/episode_zh.mp4", ROOT / "samples/episode_zh.truth.json", tmp,
                        text_key="text")


def _market(backend: str, voice: str):
    return msgspec.structs.replace(get_market("en-US", load_markets()), tts=(backend,), voices={backend: voice})


def _finished(store: ArtifactStore, stage: str) -> list[Path]:
    """The artifacts the store holds for `stage` (root/<stage>/<key[:2]>/<key>), none half-built."""
    return [p for p in (store.root / stage).glob("*/*") if p.is_dir() and not p.name.endswith(".tmp")]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _no_key_anywhere(caplog: pytest.LogCaptureFixture, *paths: Path) -> None:
    assert KEY not in caplog.text
    for path in paths:
        for f in [path] if path.is_file() else path.rglob("*.json"):
            assert KEY not in f.read_text(encoding="utf-8"), f


def test_openai_speech_dubs_the_episode_with_a_voice_per_character(episode, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    speakers = {ln.speaker for ln in episode.script.lines}
    assert speakers == {"A", "B"}
    with OpenAISpeechServer(KEY) as server:
        synth = oa.OpenAISpeechSynthesizer(oa.config_from_env({oa.BASE_URL_VAR: server.url, oa.API_KEY_VARS[0]: KEY},
                                                              **FAST))
        options = make_cast(tmp_path / "cast.json", {"A": {"openai-speech": "nova"}, "B": {"openai-speech": "clone"}})
        server.failures = [429, 500]  # the first two speech requests fail, and are retried
        store = ArtifactStore(tmp_path / "cache")
        dub = dub_episode(episode, _market("openai-speech", "onyx"), Voice(synth, "onyx"), store, options)
        requests = server.speech_requests()

    lines = {ln.id: ln for ln in episode.script.lines}
    track = dub.value
    assert len(track.lines) == 5 and track.backend == "openai-speech"
    assert synth.retries == 2 and len(requests) == 5 + 2
    by_text = {r.body["input"]: r.body for r in requests}
    for dl in track.lines:
        sent = by_text[next(t.text for t in episode.translation.lines if t.id == dl.id)]
        assert sent["response_format"] == "wav" and sent["model"] == "tts-1"
        if lines[dl.id].speaker == "A":  # the cast's server voice
            assert dl.voice == "nova" and sent["voice"] == "nova" and "ref_audio" not in sent
        else:  # cloning: the character's own reference clip goes with every line, no server voice
            assert dl.voice == "clone" and sent["task_type"] == "Base" and sent["ref_audio"] > 10_000
            assert "voice" not in sent
        samples, rate = sf.read(dub.path / dl.clip)
        assert len(samples) / rate > 0.8 and dl.natural_ms > 800
    wer, heard = back_wer(dub, {t.id: t.text for t in episode.translation.lines})
    assert wer <= WER_MAX, heard
    _no_key_anywhere(caplog, dub.path, tmp_path / "cast.json")


def test_openai_speech_failure_caches_nothing_and_says_so_in_one_line(episode, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with OpenAISpeechServer(KEY) as server:
        synth = oa.OpenAISpeechSynthesizer(oa.config_from_env(
            {oa.BASE_URL_VAR: server.url, oa.API_KEY_VARS[0]: KEY}, retries=2, **FAST))
        server.failures = [500] * 3  # more than the retries allow
        store = ArtifactStore(tmp_path / "cache")
        options = make_cast(tmp_path / "cast.json", {"A": {"openai-speech": "nova"}, "B": {"openai-speech": "echo"}})
        with pytest.raises(ToolFailedError) as info:
            dub_episode(episode, _market("openai-speech", "onyx"), Voice(synth, "onyx"), store, options)
        assert len(server.speech_requests()) == 3
        assert not _finished(store, "clip") and not _finished(store, "dub")
        message = str(info.value)
        assert "after 3 attempts" in message and "HTTP 500" in message and "\n" not in message
        server.failures = []  # the next run synthesizes every line
        dub = dub_episode(episode, _market("openai-speech", "onyx"), Voice(synth, "onyx"), store, options)
        assert len(dub.value.lines) == 5 and len(server.speech_requests()) == 3 + 5
        assert len(_finished(store, "clip")) == 5 and len(_finished(store, "dub")) == 1
    _no_key_anywhere(caplog)


def test_elevenlabs_dubs_the_episode_and_clones_a_character_once(episode, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {el.BASE_URL_VAR: "", el.API_KEY_VARS[0]: KEY}
    cast_file = tmp_path / "cast.json"
    with ElevenLabsServer(KEY) as server:
        env[el.BASE_URL_VAR] = server.url
        synth = el.ElevenLabsSynthesizer(el.config_from_env(env, **FAST))
        options = make_cast(cast_file, {"A": {"elevenlabs": f"{SARAH}?stability=0.4&similarity_boost=0.8"},
                                        "B": {"elevenlabs": "clone?model=eleven_turbo_v2_5"}})
        server.failures = [429, 503]
        market = _market("elevenlabs", "JBFqnCBsd6RMkjVDRZzb")
        dub = dub_episode(episode, market, Voice(synth, "JBFqnCBsd6RMkjVDRZzb"), ArtifactStore(tmp_path / "c1"),
                          options)
        speech = server.speech_requests()
        assert synth.retries == 2 and len(speech) == 5 + 2
        assert server.added == ["cloned01"]  # one instant clone, from B's reference clip
        add = next(r for r in server.requests if r.path == "/v1/voices/add")
        assert add.body["name"][0].startswith("localize-") and add.body["files"][0] > 10_000
        lines = {ln.id: ln for ln in episode.script.lines}
        for dl in dub.value.lines:
            want = (f"{SARAH}?stability=0.4&similarity_boost=0.8" if lines[dl.id].speaker == "A"
                    else "cloned01?model=eleven_turbo_v2_5")
            assert dl.voice == want
        for r in speech[2:]:
            voice_id = r.path.rsplit("/", 1)[1]
            assert r.query["output_format"] == ["pcm_24000"] and r.body["seed"] == el.SEED
            if voice_id == SARAH:
                assert r.body["voice_settings"] == {"stability": 0.4, "similarity_boost": 0.8}
                assert r.body["model_id"] == el.DEFAULT_MODEL
            else:
                assert voice_id == "cloned01" and r.body["model_id"] == "eleven_turbo_v2_5"
        cast = json.loads(cast_file.read_text(encoding="utf-8"))
        kept = {c["id"]: c["voices"]["elevenlabs"] for c in cast["characters"]}
        assert kept["B"] == "cloned01?model=eleven_turbo_v2_5"  # the series cast keeps the made voice
        wer, heard = back_wer(dub, {t.id: t.text for t in episode.translation.lines})
        assert wer <= WER_MAX, heard

        # The next episode of the series (a fresh cache and client): the cast's voice id, no new clone.
        again = el.ElevenLabsSynthesizer(el.config_from_env(env, **FAST))
        dub_episode(episode, market, Voice(again, "JBFqnCBsd6RMkjVDRZzb"), ArtifactStore(tmp_path / "c2"), options)
        assert server.added == ["cloned01"] and again.created == []
        # Another series without the id in its cast: the voice named for the same clip is found, not made again.
        other = make_cast(tmp_path / "other.json", {"A": {"elevenlabs": SARAH}, "B": {"elevenlabs": "clone"}})
        third = el.ElevenLabsSynthesizer(el.config_from_env(env, **FAST))
        dub_episode(episode, market, Voice(third, "JBFqnCBsd6RMkjVDRZzb"), ArtifactStore(tmp_path / "c3"), other)
        assert server.added == ["cloned01"] and third.created == []
    _no_key_anywhere(caplog, dub.path, cast_file)


def test_service_errors_are_one_line_and_never_show_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[LocalizeError] = []
    with OpenAISpeechServer(KEY) as openai_server, ElevenLabsServer(KEY) as eleven:
        good = oa.OpenAISpeechSynthesizer(oa.config_from_env({oa.BASE_URL_VAR: openai_server.url,
                                                              oa.API_KEY_VARS[0]: KEY}, **FAST))
        with pytest.raises(UnknownNameError, match=r"unknown voice of the speech server .* 'alto' .*nova"):
            good.check("alto")
        good.check("nova+shimmer")  # a Kokoro-FastAPI blend of served voices
        with pytest.raises(ConfigError, match="refused the key"):
            oa.OpenAISpeechSynthesizer(oa.config_from_env({oa.BASE_URL_VAR: openai_server.url,
                                                           oa.API_KEY_VARS[0]: "wrong"})).check("nova")
        with pytest.raises(ConfigError, match=f"set {oa.BASE_URL_VAR}") as info:
            oa.OpenAISpeechSynthesizer(oa.config_from_env({})).check("nova")
        errors.append(info.value)
        with pytest.raises(ConfigError, match="cannot be reached") as info:
            oa.OpenAISpeechSynthesizer(oa.config_from_env(
                {oa.BASE_URL_VAR: f"http://127.0.0.1:{_closed_port()}/v1"})).check("nova")
        errors.append(info.value)

        env = {el.BASE_URL_VAR: eleven.url, el.API_KEY_VARS[0]: KEY}
        with pytest.raises(ConfigError, match=f"has no API key; set {el.API_KEY_VARS[0]}") as info:
            el.ElevenLabsSynthesizer(el.config_from_env({el.BASE_URL_VAR: eleven.url})).check(SARAH)
        errors.append(info.value)
        with pytest.raises(ConfigError, match="ElevenLabs has no voice 'nobody'") as info:
            el.ElevenLabsSynthesizer(el.config_from_env(env, **FAST)).check("nobody")
        errors.append(info.value)
        with pytest.raises(ConfigError, match="unknown setting 'pitch'"):
            el.ElevenLabsSynthesizer(el.config_from_env(env)).check(f"{SARAH}?pitch=2")
        with pytest.raises(ConfigError, match="refused the key") as info:
            el.ElevenLabsSynthesizer(el.config_from_env({**env, el.API_KEY_VARS[0]: "wrong"}, **FAST)).check(SARAH)
        errors.append(info.value)
        down = {el.BASE_URL_VAR: f"http://127.0.0.1:{_closed_port()}", el.API_KEY_VARS[0]: KEY}
        with pytest.raises(ToolFailedError, match=f"connection failed.*check {el.BASE_URL_VAR}") as info:
            el.ElevenLabsSynthesizer(el.config_from_env(down, retries=1, **FAST)).synthesize(
                "Hello.", SARAH, tmp_path / "x.wav")
        errors.append(info.value)
        assert not (tmp_path / "x.wav").exists()

        # A market whose only backend cannot be used stops before any work, naming why (the CLI's exit 2).
        with pytest.MonkeyPatch.context() as mp:
            for var in el.API_KEY_VARS:
                mp.delenv(var, raising=False)
            with pytest.raises(ConfigError, match=r"no usable voice for market en-US .*elevenlabs.* has no API key"):
                choose_voice(_market("elevenlabs", SARAH), None)
    for exc in errors:
        assert "\n" not in str(exc) and KEY not in str(exc)
    assert KEY not in caplog.text
    assert SYNTHESIZERS.load("openai-speech").clones and SYNTHESIZERS.load("elevenlabs").clones
