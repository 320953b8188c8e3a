from __future__ import annotations

from localize.core.artifacts import Line, OcrCue, Word
from localize.stages.script.fusion import FusionRules, fuse, similarity


def words(*spec: tuple[int, int, str]) -> tuple[Word, ...]:
    return tuple(Word(start_ms=a, end_ms=b, text=t, probability=0.9) for a, b, t in spec)


def asr_line(ws: tuple[Word, ...], text: str) -> Line:
    return Line(id="L001", start_ms=ws[0].start_ms, end_ms=ws[-1].end_ms, text=text, words=ws, confidence=0.9)


def cue(a: int, b: int, text: str, conf: float = 0.95) -> OcrCue:
    return OcrCue(start_ms=a, end_ms=b, text=text, box=(10, 600, 300, 40), confidence=conf)


def test_similarity_ignores_case_space_and_punctuation() -> None:
    assert similarity("Ask not, what!", "ask not what") == 1.0
    assert similarity("你竟然敢背叛我！", "你竟然敢背叛我") == 1.0
    assert similarity("abc", "") == 0.0
    assert 0.0 < similarity("你竟然敢背叛我", "你竟然感背叛") < 1.0


def test_agreeing_cue_gives_ocr_text_with_asr_word_timing() -> None:
    ws = words((1200, 1500, "你竟然"), (1500, 1900, "感"), (1900, 2600, "背叛我"))
    out = fuse([asr_line(ws, "你竟然感背叛我")], [cue(1000, 3400, "你竟然敢背叛我！")], "zh")
    assert len(out) == 1
    line = out[0]
    assert line.text == "你竟然敢背叛我！" and line.origin == "fused"
    assert (line.start_ms, line.end_ms) == (1200, 2600)  # speech timing, not the lingering cue
    assert line.words == ws


def test_one_asr_segment_split_by_two_cues_into_two_lines() -> None:
    ws = words((0, 400, "我"), (400, 900, "恨你"), (1500, 1800, "走"), (1800, 2300, "开"))
    out = fuse([asr_line(ws, "我恨你走开")], [cue(0, 1200, "我恨你"), cue(1300, 2500, "走开")], "zh")
    assert [ln.text for ln in out] == ["我恨你", "走开"]
    assert [(ln.start_ms, ln.end_ms) for ln in out] == [(0, 900), (1500, 2300)]
    assert [ln.id for ln in out] == ["L001", "L002"]


def test_disagreement_trusts_confident_ocr_and_otherwise_keeps_asr() -> None:
    ws = words((0, 500, "hello"), (500, 900, "there"))
    confident = fuse([asr_line(ws, "hello there")], [cue(0, 1000, "完全不同", conf=0.97)], "en")
    assert confident[0].text == "完全不同" and confident[0].origin == "ocr"
    doubtful = fuse([asr_line(ws, "hello there")], [cue(0, 1000, "完全不同", conf=0.4)], "en")
    assert doubtful[0].text == "hello there" and doubtful[0].origin == "asr"


def test_cue_without_speech_and_speech_without_cue_are_both_kept() -> None:
    ws = words((5000, 5400, "ask"), (5400, 5800, "not"))
    out = fuse([asr_line(ws, "ask not")], [cue(0, 2000, "第一集")], "en")
    assert [(ln.text, ln.origin) for ln in out] == [("第一集", "ocr"), ("ask not", "asr")]
    assert (out[0].start_ms, out[0].end_ms) == (0, 2000) and out[0].words == ()


def test_slack_catches_a_word_just_before_the_cue_appears() -> None:
    ws = words((900, 1100, "go"), (1100, 1500, "home"))
    out = fuse([asr_line(ws, "go home")], [cue(1050, 2000, "Go home!")], "en",
               FusionRules(slack_ms=200))
    # the word is caught (the line's start is then the cue's, 150 ms away: rule 2b)
    assert len(out) == 1 and out[0].origin == "fused" and out[0].words[0].start_ms == 900


def test_a_word_the_ocr_lost_at_the_edge_is_put_back_from_speech() -> None:
    ws = words((0, 100, "or"), (100, 500, "the"), (500, 900, "Guttenberg"), (900, 1300, "Bible"))
    out = fuse([asr_line(ws, "or the Guttenberg Bible")], [cue(0, 1500, 'the "Gutenberg"Bible')], "en")
    assert out[0].text == 'or the "Gutenberg" Bible' and out[0].origin == "fused"
    zh = words((0, 300, "啊"), (300, 900, "砸自己"), (900, 1200, "的脚"), (1200, 1500, "嘛"))
    out = fuse([asr_line(zh, "啊砸自己的脚嘛")], [cue(0, 1500, "砸自己的脚")], "zh")
    assert out[0].text == "啊砸自己的脚嘛"


def test_agreeing_cue_edges_near_the_speech_edges_time_the_line() -> None:
    from localize.stages.script.fusion import CUE_SNAP_MS

    ws = words((1080, 1500, "你竟然"), (1500, 1900, "敢"), (1900, 2560, "背叛我"))
    near = fuse([asr_line(ws, "你竟然敢背叛我")], [cue(1000, 2600, "你竟然敢背叛我！")], "zh")
    assert (near[0].start_ms, near[0].end_ms) == (1000, 2600)  # within CUE_SNAP_MS: the cue's times
    far = fuse([asr_line(ws, "你竟然敢背叛我")], [cue(1080 - CUE_SNAP_MS - 50, 2560 + CUE_SNAP_MS + 400,
                                                    "你竟然敢背叛我！")], "zh")
    assert (far[0].start_ms, far[0].end_ms) == (1080, 2560)  # a leading/lingering cue: the speech's times
    other = fuse([asr_line(ws, "你竟然敢背叛我")], [cue(1000, 2600, "完全不同的话", conf=0.97)], "zh")
    assert other[0].origin == "ocr" and (other[0].start_ms, other[0].end_ms) == (1080, 2560)  # texts disagree


def test_overlapped_speech_takes_the_agreeing_cues_start_within_the_wider_bound() -> None:
    from localize.stages.script.fusion import CUE_OVERLAP_MS, CUE_SNAP_MS

    first = words((0, 400, "我有"), (400, 1700, "知道吗"))
    late = CUE_SNAP_MS + 150  # the second speaker's words start this late behind the cue
    cues = [cue(0, 1400, "我有知道吗"), cue(1400, 3000, "出现交易")]
    # no pause before the second line (the first speaker still talks): the cue's start is taken
    second = words((1400 + late, 2200, "出现"), (2200, 2900, "交易"))
    out = fuse([asr_line(first, "我有知道吗"), asr_line(second, "出现交易")], cues, "zh")
    assert out[1].text == "出现交易" and out[1].start_ms == 1400
    # a pause before it: the speech's own start stays (the cue leads)
    paused = words((0, 400, "我有"), (400, 1000, "知道吗"))
    out = fuse([asr_line(paused, "我有知道吗"), asr_line(second, "出现交易")], cues, "zh")
    assert out[1].start_ms == 1400 + late
    # beyond the bound, even with no pause: the speech's start
    far = words((1400 + CUE_OVERLAP_MS + 50, 2800, "出现"), (2800, 2900, "交易"))
    out = fuse([asr_line(words((0, 400, "我有"), (400, 2100, "知道吗")), "我有知道吗"),
                asr_line(far, "出现交易")], cues, "zh")
    assert out[1].start_ms == far[0].start_ms

