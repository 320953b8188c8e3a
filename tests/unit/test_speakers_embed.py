"""The pure parts of the speaker stage's embedding step, and its errors; no model is run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from localize.core.artifacts import Line, Script
from localize.core.errors import InputError, MediaError, MissingExtraError
from localize.stages.script.speakers import assign_speakers
from localize.stages.script.speakers.embed import Embedder, embedding_windows, read_audio, reliable_mask


def line(start: int, end: int, i: int = 0) -> Line:
    return Line(id=f"L{i}", start_ms=start, end_ms=end, text="")


def test_long_lines_keep_their_span() -> None:
    lines = [line(0, 1500), line(2000, 3200, 1)]
    assert embedding_windows(lines, 5000) == [(0, 1500), (2000, 3200)]


def test_a_short_line_grows_evenly_to_the_minimum() -> None:
    assert embedding_windows([line(2000, 2400)], 5000, min_ms=1000) == [(1700, 2700)]


def test_a_short_line_does_not_grow_into_its_neighbours() -> None:
    lines = [line(0, 1900), line(2000, 2400, 1), line(2600, 4000, 2)]
    # 100 ms of room before, 200 ms after: it takes both, no more.
    assert embedding_windows(lines, 5000, min_ms=1000)[1] == (1900, 2600)
    # Room one side lacks goes to the other.
    lines = [line(0, 1950), line(2000, 2400, 1)]
    assert embedding_windows(lines, 5000, min_ms=1000)[1] == (1950, 2950)


def test_windows_stay_inside_the_audio_and_keep_line_order() -> None:
    lines = [line(4800, 5200, 1), line(0, 300)]  # out of time order, one past the end
    assert embedding_windows(lines, 5000, min_ms=1000) == [(4000, 5000), (0, 1000)]


def test_overlapping_lines_do_not_widen_backwards() -> None:
    lines = [line(0, 3000), line(2500, 2800, 1)]
    assert embedding_windows(lines, 10_000, min_ms=1000)[1] == (2500, 3500)


def test_reliable_mask_marks_short_lines() -> None:
    assert reliable_mask([line(0, 599), line(0, 600, 1), line(0, 5000, 2)]).tolist() == [False, True, True]
    assert reliable_mask([line(0, 800)], min_ms=1000).tolist() == [False]


def test_missing_resemblyzer_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resemblyzer", None)  # import resemblyzer -> ImportError
    with pytest.raises(MissingExtraError) as err:
        Embedder().load()
    assert err.value.extra == "speakers" and "pip install 'localize[speakers]'" in str(err.value)


def test_audio_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such audio file") as err:
        read_audio(tmp_path / "absent.wav")
    assert err.value.path == tmp_path / "absent.wav"
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(MediaError, match="16 kHz mono wav"):
        read_audio(bad)


def test_read_audio_downmixes_and_resamples(tmp_path: Path) -> None:
    import soundfile as sf

    pytest.importorskip("librosa")
    stereo = np.stack([np.full(8000, 0.5), np.full(8000, -0.1)], axis=1).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 8000)
    mono = read_audio(tmp_path / "s.wav")
    assert mono.dtype == np.float32 and mono.ndim == 1 and abs(len(mono) - 16000) <= 1
    assert abs(float(np.median(mono)) - 0.2) < 0.01


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_lines_pass_through_untouched(n: int, tmp_path: Path) -> None:
    script = Script(language="zh", duration_ms=1000, lines=tuple(line(0, 900, i) for i in range(n)),
                    backend="test", model="")
    # No audio is read and no model loaded: the path does not even exist.
    assert assign_speakers(script, tmp_path / "absent.wav") is script
