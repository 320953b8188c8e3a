from __future__ import annotations

from collections import defaultdict

import numpy as np

from localize.core.artifacts import Line
from localize.stages.voice.casting import MAX_SHIFT, _variant, median_f0, pitch_ratio, reference_spans


def line(i: int, start: int, ms: int, conf: float = 0.9, speaker: str = "C01") -> Line:
    return Line(id=f"L{i:03d}", start_ms=start, end_ms=start + ms, text="x", speaker=speaker, confidence=conf)


def tone(f0: float, seconds: float = 2.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)).astype(np.float32)


def test_reference_takes_confident_lines_of_one_to_eight_seconds_up_to_twelve() -> None:
    lines = [line(0, 0, 400), line(1, 1000, 3000, 0.95), line(2, 5000, 9000, 0.99), line(3, 15000, 4000, 0.6),
             line(4, 20000, 5000, 0.9)]
    spans = reference_spans(lines)
    total = sum(b - a for a, b in spans)
    assert 6000 <= total <= 12000
    assert (1000, 4000) in spans and (20000, 25000) in spans  # the 1-8 s confident ones first
    assert all(b - a >= 500 for a, b in spans) and spans == tuple(sorted(spans))


def test_pitch_of_a_voiced_signal_and_the_shift_toward_the_actor() -> None:
    assert abs(median_f0(tone(220.0), 16000) - 220.0) < 5
    assert median_f0(np.zeros(100, dtype=np.float32), 16000) == 0.0
    ratio = pitch_ratio(220.0, [tone(200.0)], 16000)
    assert abs(ratio - 1.1) < 0.03
    assert pitch_ratio(400.0, [tone(100.0)], 16000) == round(MAX_SHIFT, 4)  # capped at +4 semitones
    assert pitch_ratio(0.0, [tone(100.0)], 16000) == 1.0


def test_espeak_variants_follow_the_actors_pitch_and_differ_per_character() -> None:
    used: dict[str, int] = defaultdict(int)
    voices = [_variant("espeak", "pt-br", f0, used) for f0 in (230.0, 110.0, 240.0, 0.0)]
    assert voices[0] == "pt-br+f3" and voices[1] == "pt-br+m3" and voices[2] == "pt-br+f1"
    assert voices[3] == "pt-br"  # unknown pitch: the market's voice
    assert _variant("piper", "en_US-joe-medium", 230.0, used) == "en_US-joe-medium"


def test_audition_picks_the_variant_whose_voice_is_closest_to_the_actor(tmp_path) -> None:
    """Candidates are auditioned saying the character's line; the best embedding match wins."""
    import pytest

    pytest.importorskip("resemblyzer", reason="the speakers extra (resemblyzer) is not installed")
    import soundfile as sf

    from localize.stages.voice.casting import cast_voices

    rate = 16000
    actor = tone(120.0, 3.0)
    sf.write(tmp_path / "actor.wav", actor, rate)
    heard = []

    def audition(voice: str, text: str):
        heard.append((voice, text))
        out = tmp_path / f"{voice}.wav"
        # m6 sounds like the actor (the same tone), the others do not
        sf.write(out, tone(120.0 if voice.endswith("+m6") else 300.0, 3.0), rate)
        return out

    voices = cast_voices([line(0, 0, 3000)], backend="espeak", base_voice="pt-br", audio=tmp_path / "actor.wav",
                         audition=audition, probes={"C01": "Olá, tudo bem?"})
    assert voices["C01"].voice == "pt-br+m6"
    assert {v for v, _ in heard} == {f"pt-br+{m}" for m in ("m3", "m1", "m6", "m4", "m7", "m2")}
    assert {t for _, t in heard} == {"Olá, tudo bem?"}
