"""The series cast as merged episode contributions: episodes understood at once give the cast they give one by
one, in either order; concurrent writers lose no character; the speaker backend is found by name."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from localize.core.artifacts import Line, Script
from localize.core.cache import ArtifactStore
from localize.core.options import RunOptions
from localize.stages.script import stage as script_stage
from localize.stages.script.speakers import Diarization
from localize.stages.script.speakers.backends import SPEAKER_BACKENDS, Resemblyzer, SpeakerBackend
from localize.stages.script.speakers.cast import CastRegistry, publish_cast


def voice(seed: int) -> tuple[float, ...]:
    v = np.random.default_rng(seed).standard_normal(256)
    return tuple(float(x) for x in v / np.linalg.norm(v))


# Who speaks in each episode (voice seeds, in order of first appearance): ep02 meets voice 3 before voice 1.
EPISODES = {"ep01": (1, 2), "ep02": (3, 1, 4), "ep03": (2, 5)}


class FakeBackend:
    """Clusters = the episode's voices; each script line says which cluster speaks it."""

    name = "fake"
    requires = ""

    def __init__(self, gate: threading.Barrier | None = None) -> None:
        self.gate = gate

    def model_version(self) -> str:
        return "fake-1"

    def diarize(self, script: Script, audio: Path, *, n_speakers: int | None = None) -> Diarization:
        if self.gate is not None:
            self.gate.wait(timeout=10)  # every episode is inside the stage at once
        seeds = EPISODES[audio.stem]
        labels = tuple(int(ln.text) for ln in script.lines)
        return Diarization(labels=labels, centroids=tuple(voice(s) for s in seeds),
                           counts=tuple(labels.count(k) for k in range(len(seeds))))


def understand(episode: str, tmp_path: Path, options: RunOptions) -> Script:
    seeds = EPISODES[episode]
    lines = tuple(Line(id=f"L{i:03d}", start_ms=i * 1000, end_ms=i * 1000 + 900, text=str(i % len(seeds)),
                       origin="asr") for i in range(2 * len(seeds)))
    script = Script(language="zh", duration_ms=10_000, lines=lines, backend="t", model="t")
    source = SimpleNamespace(path=tmp_path / f"{episode}.mp4")
    audio = SimpleNamespace(key=f"audio-{episode}", asr=tmp_path / f"{episode}.wav")
    store = ArtifactStore(tmp_path / "cache")
    _, labelled = script_stage._speakers(f"script-{episode}", script, source, audio, store, options, _NoProgress())
    return labelled


class _NoProgress:
    def task(self, *_: object) -> SimpleNamespace:
        return SimpleNamespace(done=lambda: None, advance=lambda *a: None)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, threading.Barrier | None]:
    gate: dict[str, threading.Barrier | None] = {"barrier": None}
    real = SPEAKER_BACKENDS.create

    def create(name: str, **options: object) -> object:
        return FakeBackend(gate["barrier"]) if name == "fake" else real(name, **options)

    monkeypatch.setattr(SPEAKER_BACKENDS, "create", create)
    return gate


def options_for(root: Path) -> RunOptions:
    return RunOptions(cast_file=root / "series" / "cast.json", series="series", speakers="on", speakers_backend="fake")


def labels_of(script: Script) -> list[str]:
    return [ln.speaker for ln in script.lines]


def test_episodes_understood_at_once_give_the_cast_they_give_one_by_one(
        tmp_path: Path, fake: dict[str, threading.Barrier | None]) -> None:
    one_by_one = options_for(tmp_path / "seq")
    expected = {ep: labels_of(understand(ep, tmp_path / "seq", one_by_one)) for ep in sorted(EPISODES)}
    cast_text = Path(one_by_one.cast_file).read_text()
    assert len(CastRegistry.load(Path(one_by_one.cast_file), "series")) == 5  # voices 1-5, none lost

    for order in (["ep03", "ep02", "ep01"], ["ep01", "ep02", "ep03"]):
        root = tmp_path / "-".join(order)
        options = options_for(root)
        fake["barrier"] = threading.Barrier(len(order))
        errors: list[BaseException] = []

        def job(episode: str, options: RunOptions = options, root: Path = root) -> None:
            try:
                understand(episode, root, replace(options, cast_merge=False))  # the catalog's understand jobs
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(ep,)) for ep in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert not Path(options.cast_file).exists()  # understanding alone leaves the cast file alone
        fake["barrier"] = None
        # The market jobs: the first merges every contribution; each episode gets its characters from it.
        got = {ep: labels_of(understand(ep, root, options)) for ep in reversed(order)}
        assert got == expected
        assert Path(options.cast_file).read_text() == cast_text


def test_concurrent_writers_lose_no_character(tmp_path: Path, fake: dict[str, threading.Barrier | None]) -> None:
    options = options_for(tmp_path)
    fake["barrier"] = threading.Barrier(len(EPISODES))
    threads = [threading.Thread(target=understand, args=(ep, tmp_path, options)) for ep in EPISODES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cast = CastRegistry.load(Path(options.cast_file), "series")
    assert len(cast) == 5 and sum(c.lines for c in cast) == sum(2 * len(s) for s in EPISODES.values())
    assert sorted(cast.to_cast().episodes) == sorted(EPISODES)
    # Publishing again changes nothing: every episode is recorded once.
    before = Path(options.cast_file).read_text()
    publish_cast(options)
    assert Path(options.cast_file).read_text() == before


def test_the_speaker_backend_is_found_by_name(tmp_path: Path, fake: dict[str, threading.Barrier | None]) -> None:
    assert "resemblyzer" in SPEAKER_BACKENDS.names() and RunOptions().speakers_backend == "resemblyzer"
    assert SPEAKER_BACKENDS.load("resemblyzer") is Resemblyzer
    assert isinstance(Resemblyzer(), SpeakerBackend) and Resemblyzer.requires == "resemblyzer"
    script = understand("ep01", tmp_path, RunOptions(speakers="on", speakers_backend="fake"))  # no cast: local labels
    assert labels_of(script) == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00", "SPEAKER_01"]


def test_a_third_party_speaker_backend_comes_from_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from localize.core import registry

    monkeypatch.setattr(registry, "entry_points", lambda group: [
        EntryPoint(name="speakers.fake", value=f"{__name__}:FakeBackend", group=group)])
    assert SPEAKER_BACKENDS.load("fake") is FakeBackend
