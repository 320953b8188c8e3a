"""Word times refined on voice activity (localize/stages/script/asr/refine.py), on real speech.

The words are what Whisper base (faster-whisper 1.2.1, the packaged model, float32, VAD filter on)
returns for JFK's "ask not what your country can do for you" (../shared/media/speech/en/jfk.flac),
recorded here so the test needs no model; the speech regions are Silero's on the real recording.
Whisper stretches "what" over the 1.1 s pause after "not" (4.24-5.52 s; the voice says it from ~5.4 s).
"""

from __future__ import annotations

import itertools

import pytest

from localize.stages.script.asr import RawWord
from localize.stages.script.asr.lines import LineRules, cut_lines
from localize.stages.script.asr.refine import RefineRules, refine_words, speech_regions
from tests.conftest import shared_media

WHISPER_BASE_JFK = (
    (("And", 0, 520), ("so,", 520, 840), ("my", 1060, 1200), ("fellow", 1200, 1560), ("Americans,", 1560, 2100),
     ("ask", 3300, 3740), ("not", 3740, 4240), ("what", 4240, 5520), ("your", 5520, 5760),
     ("country", 5760, 6240), ("can", 6240, 6620), ("do", 6620, 6820), ("for", 6820, 7080), ("you,", 7080, 7340)),
    (("ask", 7740, 8480), ("what", 8480, 8760), ("you", 8760, 9040), ("can", 9040, 9320), ("do", 9320, 9560),
     ("for", 9560, 9780), ("your", 9780, 9940), ("country.", 9940, 10360)),
)


def whisper_words() -> tuple[tuple[RawWord, ...], ...]:
    return tuple(tuple(RawWord(s, e, " " + t, 0.9) for t, s, e in seg) for seg in WHISPER_BASE_JFK)


@pytest.fixture(scope="module")
def regions() -> list[tuple[int, int]]:
    return speech_regions(shared_media("speech/en/jfk.flac"))


def _pauses(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(a[1], b[0]) for a, b in itertools.pairwise(regions)]


def test_the_recording_has_the_pause_whisper_stretches_a_word_over(regions) -> None:
    # the pause after "not" is real: Silero hears no speech for over 0.9 s inside Whisper's "what"
    assert any(p0 >= 4240 and p1 <= 5520 and p1 - p0 >= 900 for p0, p1 in _pauses(regions))


def test_no_word_spans_a_pause(regions) -> None:
    refined = [w for seg in refine_words(whisper_words(), regions) for w in seg]
    for w in refined:
        for p0, p1 in _pauses(regions):
            assert min(w.end_ms, p1) - max(w.start_ms, p0) <= 0, (w, (p0, p1))
    what = refined[7]
    assert what.text == " what" and what.start_ms >= 5300  # said after the pause, not stretched over it
    assert [w.text for w in refined] == [w.text for seg in whisper_words() for w in seg]  # nothing lost
    assert all(a.end_ms <= b.start_ms for a, b in itertools.pairwise(refined))


def test_a_word_said_after_a_pause_goes_after_it_even_when_whisper_puts_more_of_it_before(regions) -> None:
    # Whisper's "what" (4240-5520) overlaps the speech before the pause more than the speech after it;
    # it is the word that starts the next phrase (min_overlap_ms rule), as the voice says
    refined = [w for seg in refine_words(whisper_words(), regions) for w in seg]
    after = next(r for r in regions if r[0] > 5000)
    assert after[0] <= refined[7].start_ms < refined[7].end_ms <= after[1]


def test_the_line_is_cut_at_the_pause_whisper_stretched_a_word_over(regions) -> None:
    before = cut_lines(whisper_words(), LineRules())
    assert "ask not what your country can do for you," in [ln.text for ln in before]  # Whisper alone: one line
    after = cut_lines(refine_words(whisper_words(), regions), LineRules())
    texts = [ln.text for ln in after]
    assert "ask not" in texts and "what your country can do for you," in texts
    ask_not, what = after[texts.index("ask not")], after[texts.index("what your country can do for you,")]
    assert what.start_ms - ask_not.end_ms >= LineRules().pause_ms


def test_line_edges_reach_the_speech_edges(regions) -> None:
    # a phrase's first word starts at the voice's onset and its last word ends at its offset
    lines = cut_lines(refine_words(whisper_words(), regions), LineRules())
    edges = {(s, e) for s, e in regions}
    assert all((ln.start_ms, ln.end_ms) in edges for ln in lines), ([(ln.start_ms, ln.end_ms) for ln in lines], edges)


def test_a_short_pause_is_not_a_pause(regions) -> None:
    # closing pauses under min_pause_ms: with a huge minimum the whole clip is one region
    merged = speech_regions(shared_media("speech/en/jfk.flac"), RefineRules(min_pause_ms=5000))
    assert len(merged) == 1 and len(regions) > 1


def test_words_without_speech_keep_their_times() -> None:
    segs = whisper_words()
    assert refine_words(segs, []) == segs


# Whisper base's words for line 4 of samples/episode_zh.mp4 (AISHELL-1 S0002: 而对楼市成交抑制作用最大的限购, true
# speech 14.94-19.94 s with a ~0.3 s breath after 楼市), recorded as above.
WHISPER_BASE_SAMPLE_LINE4 = ((
    ("而", 14580, 15100), ("对", 15100, 15360), ("面", 15360, 15580), ("螺", 15580, 15860), ("式", 15860, 16120),
    ("成", 16120, 16920), ("交", 16920, 17260), ("一直", 17260, 17840), ("作", 17840, 18300), ("用", 18300, 18520),
    ("最", 18520, 18780), ("大的", 18780, 19040), ("线", 19040, 19580), ("构", 19580, 19900)),)


@pytest.fixture(scope="module")
def sample_regions() -> list[tuple[int, int]]:
    from tests.conftest import ROOT

    return speech_regions(ROOT / "samples" / "episode_zh.mp4")


def sample_words() -> tuple[tuple[RawWord, ...], ...]:
    return tuple(tuple(RawWord(s, e, t, 0.9) for t, s, e in seg) for seg in WHISPER_BASE_SAMPLE_LINE4)


def test_a_word_stretched_back_over_a_breath_goes_after_it(sample_regions) -> None:
    # Whisper's 成 (16.12-16.92 s) covers the breath after 楼市 and overlaps the speech before it more
    # (min_overlap_ms rule): 成交 is said after the breath
    breath = next((a[1], b[0]) for a, b in itertools.pairwise(sample_regions)
                  if 16000 <= a[1] <= 16900)
    refined = [w for seg in refine_words(sample_words(), sample_regions) for w in seg]
    cheng = next(w for w in refined if w.text == "成")
    assert cheng.start_ms >= breath[1]
    assert refine_words(sample_words(), sample_regions, RefineRules(min_overlap_ms=10**6))[0][5].start_ms < breath[0]


def test_a_breath_shorter_than_the_line_pause_does_not_cut_the_line(sample_regions) -> None:
    # the breath is a pause for the words (> min_pause_ms) but under LineRules.pause_ms: one line, from the
    # voice's onset to its offset (snap rule: 式 ends 0.36 s before the voice does, Whisper's compression)
    lines = cut_lines(refine_words(sample_words(), sample_regions), LineRules.for_language("zh"))
    assert [ln.text for ln in lines] == ["而对面螺式成交一直作用最大的线构"]
    assert abs(lines[0].start_ms - 14940) <= 60 and abs(lines[0].end_ms - 19940) <= 100  # true speech times
