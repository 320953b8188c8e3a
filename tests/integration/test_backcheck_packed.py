"""Back-transcription of several clips in one Whisper window: on eight real LJSpeech recordings (50 s),
each clip gets its own words (after the cuts are moved to fit the lines' texts), as accurately as clip by
clip."""

from __future__ import annotations

import csv

import pytest

from localize.stages.script.asr.faster_whisper import pack_clips
from localize.stages.voice import backcheck
from tests.conftest import shared_media

pytestmark = pytest.mark.integration


def test_packed_clips_are_heard_as_well_as_one_by_one():
    folder = shared_media("speech/en/ljspeech")
    with open(folder / "metadata.csv", encoding="utf-8") as fh:
        texts = {row[0]: row[2] for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE)}
    clips = sorted(folder.glob("LJ001-000*.wav"))
    assert len(clips) == 8
    asr = backcheck.recognizer()
    try:
        packed = asr.transcribe_clips(clips, "en", max_tokens=backcheck.MAX_TOKENS)
        alone = [asr.transcribe_clip(c, "en", max_tokens=backcheck.MAX_TOKENS) for c in clips]
    finally:
        asr.release()
    assert len(pack_clips([9.7, 1.9, 9.7, 5.1, 8.1, 5.7, 8.4, 1.8])) == 3  # three windows, not eight
    refs = [texts[c.stem] for c in clips]
    assert len({h.window for h in packed}) == 3
    words = backcheck.recut([h.words for h in packed], [h.window for h in packed], refs)
    packed_cer = [backcheck.cer(r, "".join(w)) for r, w in zip(refs, words, strict=True)]
    alone_cer = [backcheck.cer(r, h) for r, h in zip(refs, alone, strict=True)]
    assert all(p <= a + 0.05 for p, a in zip(packed_cer, alone_cer, strict=True)), (packed_cer, alone_cer)
    assert max(packed_cer) <= 0.15 or max(packed_cer) <= max(alone_cer), list(zip(refs, words, strict=True))
    assert sum(packed_cer) / 8 <= sum(alone_cer) / 8 + 0.03, (packed_cer, alone_cer)
    # Every clip's words are its own: its text is nearer its reference than any other clip's.
    for i, heard in enumerate(packed):
        assert min(range(8), key=lambda j: backcheck.cer(refs[j], heard.text)) == i, (i, heard)
