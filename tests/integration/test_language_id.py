"""Language detection by faster-whisper on real speech, no --language given.

Whisper base's language ID hears ../shared/media's this_is_a_test.mp3 (4.5 s of clear English) as Greek at
p=0.78 and decodes it into Greek letters; an unsure detection is settled by decoding the speech in the top
candidate languages and keeping the likeliest.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import localize
from localize.stages.script.asr.faster_whisper import LANGUAGE_SURE, FasterWhisperRecognizer
from tests.conftest import shared_media

pytestmark = pytest.mark.integration


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def test_unsure_detection_keeps_the_likeliest_decode(tmp_path: Path) -> None:
    clip = shared_media("speech/en/this_is_a_test.mp3")
    recognizer = FasterWhisperRecognizer()
    model = recognizer._load()
    from faster_whisper import decode_audio

    top, p, _ = model.detect_language(decode_audio(str(clip)), vad_filter=True)
    assert top != "en" and p < LANGUAGE_SURE  # the model's own first guess is wrong here, and unsure
    script = localize.transcribe(clip, options=localize.RunOptions(ocr="off", speakers="off"), cache_dir=tmp_path)
    assert script.language == "en"
    assert _words(" ".join(ln.text for ln in script.lines)) == ["this", "is", "a", "test"]
    assert recognizer.detect_language(clip)[0] == "en"  # the run's route check hears the same language

