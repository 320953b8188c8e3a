"""The series cast registry: matching, new characters, running means, names, voices, the JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localize.core import jsonio
from localize.core.artifacts import Cast
from localize.core.errors import ConfigError, LocalizeError, UnknownNameError
from localize.stages.script.speakers.cast import MATCH_THRESHOLD, CastRegistry


def voice(seed: int, dim: int = 256) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def lines_of(v: np.ndarray, n: int, *, seed: int = 0, noise: float = 0.3) -> np.ndarray:
    x = v + noise * np.random.default_rng(seed).standard_normal((n, len(v))) / np.sqrt(len(v))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def mix(a: np.ndarray, b: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector at cosine `cos` from unit `a`, towards `b`."""
    b = b - (b @ a) * a
    v = cos * a + np.sqrt(1 - cos**2) * b / np.linalg.norm(b)
    return v / np.linalg.norm(v)


@pytest.fixture
def cast_file(tmp_path: Path) -> Path:
    return tmp_path / "series" / "cast.json"


def test_a_new_cast_is_empty_until_saved(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "my-series")
    assert len(cast) == 0 and cast.series == "my-series" and cast.characters == ()
    assert not cast_file.exists()


def test_unknown_voices_become_characters_in_cluster_order(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    ids = cast.match([lines_of(voice(1), 4, seed=1), lines_of(voice(2), 2, seed=2)], episode="ep01")
    assert ids == ["C01", "C02"]
    c1, c2 = cast.characters
    assert (c1.id, c1.name, c1.lines, c1.episodes, c1.voices) == ("C01", "C01", 4, ("ep01",), {})
    assert (c2.lines, c2.episodes) == (2, ("ep01",))
    assert len(c1.embedding) == 256 and abs(np.linalg.norm(c1.embedding) - 1) < 1e-5


def test_known_voices_are_recognised_and_new_ones_added(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([lines_of(voice(1), 4, seed=1), lines_of(voice(2), 4, seed=2)], episode="ep01")
    # Episode 2: voice 2 speaks first, then a newcomer, then voice 1.
    ids = cast.match(
        [lines_of(voice(2), 3, seed=12), lines_of(voice(3), 3, seed=13), lines_of(voice(1), 1, seed=11)],
        episode="ep02",
    )
    assert ids == ["C02", "C03", "C01"]
    assert cast.character("C01").episodes == ("ep01", "ep02")
    assert cast.character("C03").episodes == ("ep02",)
    assert (cast.character("C01").lines, cast.character("C02").lines) == (5, 7)


def test_similarity_must_reach_the_threshold(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s", threshold=0.75)
    a = voice(1)
    cast.match([a])
    assert cast.match([mix(a, voice(2), 0.80)]) == ["C01"]
    assert cast.match([mix(a, voice(3), 0.70)]) == ["C02"]
    assert 0.6 < MATCH_THRESHOLD < 0.9


def test_one_voice_split_in_two_clusters_stays_one_character(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s", threshold=0.75)
    a, b = voice(1), voice(2)
    cast.match([np.stack([a, a]), b])
    # Both clusters are like a and unlike b: the nearer is paired with a, the other joins it too
    # (0.85 >= 0.75) rather than becoming a duplicate of a; a third, unlike anyone, is new.
    near, far, other = mix(a, b, 0.95), mix(a, voice(5), 0.85), mix(a, voice(6), 0.6)
    assert cast.match([far, near, other], episode="ep02", line_counts=[2, 3, 1]) == ["C01", "C01", "C03"]
    c1 = cast.character("C01")
    assert (c1.lines, c1.episodes) == (2 + 5, ("ep02",))


def test_the_assignment_pairs_as_many_clusters_as_it_can(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s", threshold=0.6)
    a, b = voice(1), voice(2)
    cast.match([a, b])
    x = mix(a, voice(5), 0.95)  # only like a
    y = 0.6 * a + 0.6 * b + 0.2 * voice(6)  # like a and b alike (about 0.7 to each)
    y /= np.linalg.norm(y)
    assert float(y @ a) > 0.6 and float(y @ b) > 0.6
    assert cast.match([y, x]) == ["C02", "C01"]


def test_running_mean_is_weighted_by_line_count(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s", threshold=0.5)
    a, b = voice(1), voice(2)
    cast.add(np.stack([a, a, a]))  # 3 lines
    partner = mix(a, b, 0.8)
    cast.update("C01", np.stack([partner]), episode="ep02")  # 1 line
    expected = 3 * a + partner
    expected /= np.linalg.norm(expected)
    character = cast.character("C01")
    assert character.lines == 4 and character.episodes == ("ep02",)
    np.testing.assert_allclose(character.embedding, expected, atol=1e-6)
    # line_counts: the lines a cluster has, when only some of them were embedded to learn from.
    cast.match([np.stack([a, a])], episode="ep03", line_counts=[5])
    assert cast.character("C01").lines == 9


def test_an_episode_is_not_counted_twice(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    lines = lines_of(voice(1), 3, seed=1)
    cast.match([lines], episode="ep01")
    before = cast.character("C01")
    assert cast.match([lines], episode="ep01") == ["C01"]
    assert cast.character("C01") == before


def test_rename_and_voices_persist_and_survive_later_matches(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([lines_of(voice(1), 3, seed=1), lines_of(voice(2), 3, seed=2)], episode="ep01")
    assert cast.rename("C01", " Mother ").name == "Mother"
    cast.set_voice("C01", "piper", "en_US-joe-medium")
    cast.set_voice("C01", "espeak", "en-us")
    assert cast.save() == cast_file

    again = CastRegistry.load(cast_file, "s")
    assert again.character("C01").name == "Mother"
    assert again.character("C01").voices == {"piper": "en_US-joe-medium", "espeak": "en-us"}
    assert again.match([lines_of(voice(1), 2, seed=21)], episode="ep02") == ["C01"]
    assert again.character("C01").name == "Mother"
    assert again.character("C01").voices["piper"] == "en_US-joe-medium"
    again.save()
    assert CastRegistry.load(cast_file, "s").character("C01").episodes == ("ep01", "ep02")


def test_the_file_is_a_cast_artifact(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([voice(1)], episode="ep01")
    cast.save()
    data = json.loads(cast_file.read_text())
    assert data["schema_version"] == 1 and data["series"] == "s"
    assert list(data) == sorted(data)
    loaded = jsonio.load(Cast, cast_file)
    assert loaded == cast.to_cast()
    assert not list(cast_file.parent.glob(".*.tmp"))


def test_names_must_be_given_and_unique(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([voice(1), voice(2)])
    cast.rename("C01", "Ming")
    with pytest.raises(ConfigError, match="already C01"):
        cast.rename("C02", "Ming")
    with pytest.raises(ConfigError, match="already C01"):
        cast.rename("C02", "C01")
    with pytest.raises(ConfigError, match="empty"):
        cast.rename("C02", "  ")
    cast.rename("C01", "Ming")  # renaming to its own name is fine


def test_unknown_character_lists_the_known_ones(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([voice(1)])
    with pytest.raises(UnknownNameError) as err:
        cast.set_voice("C09", "piper", "x")
    assert err.value.known == ("C01",)


def test_a_cast_from_another_series_is_refused(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "first")
    cast.match([voice(1)])
    cast.save()
    with pytest.raises(ConfigError, match="series 'first', not 'second'"):
        CastRegistry.load(cast_file, "second")


def test_embeddings_of_another_model_are_refused(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([voice(1)])
    with pytest.raises(LocalizeError, match="dimensions"):
        cast.match([voice(1, dim=192)])


def test_ids_continue_after_the_highest(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([voice(s) for s in range(1, 12)])
    assert [c.id for c in cast][-2:] == ["C10", "C11"]
    assert cast.match([]) == []


def test_save_needs_a_path() -> None:
    cast = CastRegistry(Cast(series="s", characters=()))
    with pytest.raises(ValueError, match="save\\(path\\)"):
        cast.save()


def test_pitch_is_a_typed_field_per_backend(cast_file: Path) -> None:
    cast = CastRegistry.load(cast_file, "s")
    cast.match([lines_of(voice(1), 3, seed=1)], episode="ep01")
    cast.set_voice("C01", "espeak", "pt-br+m3")
    cast.set_pitch("C01", "espeak", 1.0825)
    cast.save()
    data = json.loads(cast_file.read_text())["characters"][0]
    assert data["pitch"] == {"espeak": 1.0825} and data["voices"] == {"espeak": "pt-br+m3"}
    again = CastRegistry.load(cast_file, "s").character("C01")
    assert again.pitch == {"espeak": 1.0825}
    # The same voice again keeps the pitch; a new voice is measured again.
    cast.set_voice("C01", "espeak", "pt-br+m3")
    assert cast.character("C01").pitch == {"espeak": 1.0825}
    cast.set_voice("C01", "espeak", "pt-br+f2")
    assert cast.character("C01").pitch == {}


def test_old_cast_files_with_pitch_keys_are_migrated_on_load(cast_file: Path) -> None:
    cast_file.parent.mkdir(parents=True)
    old = {"schema_version": 1, "series": "s", "characters": [
        {"id": "C01", "name": "Ana", "embedding": [1.0, 0.0], "episodes": ["ep01"], "lines": 3,
         "voices": {"espeak": "pt-br+m3", "espeak@pitch": "1.0825", "piper": "x", "piper@pitch": ""}}]}
    cast_file.write_text(json.dumps(old))
    c1 = CastRegistry.load(cast_file, "s").character("C01")
    assert c1.voices == {"espeak": "pt-br+m3", "piper": "x"} and c1.pitch == {"espeak": 1.0825}
    # The old CLI's way of forgetting a pitch still works.
    cast = CastRegistry.load(cast_file, "s")
    cast.set_voice("C01", "espeak@pitch", "")
    assert cast.character("C01").pitch == {} and cast.character("C01").voices["espeak"] == "pt-br+m3"


def test_remember_pitch_keeps_the_first_ratio_of_the_cast_voice(cast_file: Path) -> None:
    from localize.core.artifacts import DubLine, DubTrack, Line, Script
    from localize.core.options import RunOptions
    from localize.stages.voice.stage import remember_pitch

    cast = CastRegistry.load(cast_file, "s")
    cast.match([lines_of(voice(1), 3, seed=1), lines_of(voice(2), 3, seed=2)], episode="ep01")
    cast.set_voice("C01", "espeak", "pt-br+m3")
    cast.set_voice("C02", "espeak", "pt-br+f2")
    cast.save()
    script = Script(language="zh", duration_ms=3000, backend="t", model="t", lines=tuple(
        Line(id=f"L{i}", start_ms=i * 1000, end_ms=i * 1000 + 900, text="x", origin="asr", speaker=spk)
        for i, spk in enumerate(["C01", "C02", "C01"])))

    def dub(pitches: list[float], voices: list[str]) -> DubTrack:
        return DubTrack(language="pt", backend="espeak", voice="pt-br", sample_rate=24000, max_speed=1.3, lines=tuple(
            DubLine(id=f"L{i}", slot_start_ms=0, slot_end_ms=1, dub_start_ms=0, dub_end_ms=1, natural_ms=1,
                    speed=1.0, overflow_ms=0, clip="c.wav", voice=v, pitch=p)
            for i, (p, v) in enumerate(zip(pitches, voices))))

    options = RunOptions(cast_file=cast_file, series="s")
    remember_pitch(options, script, dub([1.23456, 0.9, 1.5], ["pt-br+m3", "pt-br+m1", "pt-br+m3"]))
    again = CastRegistry.load(cast_file, "s")
    assert again.character("C01").pitch == {"espeak": 1.2346}  # the first line's, rounded
    assert again.character("C02").pitch == {}  # dubbed in another voice than the cast's: not its pitch
    remember_pitch(options, script, dub([2.0, 2.0, 2.0], ["pt-br+m3", "pt-br+f2", "pt-br+m3"]))
    again = CastRegistry.load(cast_file, "s")
    assert again.character("C01").pitch == {"espeak": 1.2346} and again.character("C02").pitch == {"espeak": 2.0}
