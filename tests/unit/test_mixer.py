"""mix_dub, normalise and measure (localize/stages/mix/mixer.py) on real audio, through ffmpeg."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import DubTrack
from localize.core.errors import LocalizeError
from localize.stages.mix.mixer import CODEC_HEADROOM_DB, measure, mix_dub, normalise, r128_reading

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

RATE = 48000


def _write(path: Path, mono: np.ndarray, rate: int = RATE) -> Path:
    sf.write(path, np.stack([mono, mono], axis=1).astype(np.float32), rate, subtype="FLOAT")
    return path


def _sine(seconds: float, dbfs: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * 1000 * t)


def _voice_band_noise(n: int, seed: int) -> np.ndarray:
    """Unit-RMS noise from 100 Hz to 4 kHz, where dialogue has its energy."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    hz = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(hz < 100) | (hz > 4000)] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(np.mean(noise**2))


def _quiet_then_loud(seconds: float = 8.0, step_db: float = 9.0) -> np.ndarray:
    """Noise 'syllables' at 3 Hz: the first half `step_db` quieter than the second."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    syllables = (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    level = np.where(t < seconds / 2, 10 ** (-(20 + step_db) / 20), 10 ** (-20 / 20))
    return _voice_band_noise(n, 7) * syllables * level


def _measure(path: Path):
    return measure(path, target_lufs=-16.0, target_true_peak=-1.0)


# -- the internal check ------------------------------------------------------------------------------


def test_dub_and_bed_at_different_rates_is_an_internal_error_not_a_user_error(tmp_path):
    bed = _write(tmp_path / "bed.wav", _sine(1.0, -20))
    dub = DubTrack(language="en", backend="test", voice="v", sample_rate=24000, max_speed=1.3, lines=())
    with pytest.raises(Exception) as raised:
        mix_dub(bed, dub, tmp_path, tmp_path / "out.wav", duck_db=-15.0)
    assert not isinstance(raised.value, LocalizeError)  # a bug in localize, shown with its traceback
    assert isinstance(raised.value, RuntimeError)
    assert "24000" in str(raised.value) and str(RATE) in str(raised.value)
    assert not (tmp_path / "out.wav").exists()


# -- the meter ---------------------------------------------------------------------------------------


def test_measure_of_a_reference_sine(tmp_path):
    # a 1 kHz sine at -20 dBFS in both channels reads -20 LUFS (ITU-R BS.1770), its peak -20 dBTP
    loud = _measure(_write(tmp_path / "sine.wav", _sine(5.0, -20)))
    assert loud.integrated_lufs == pytest.approx(-20.0, abs=0.2)
    assert loud.true_peak_dbtp == pytest.approx(-20.0, abs=0.2)
    assert loud.loudness_range_lu == pytest.approx(0.0, abs=0.5)
    assert (loud.target_lufs, loud.target_true_peak_dbtp) == (-16.0, -1.0)


def test_measure_of_a_step_reads_its_range(tmp_path):
    step = np.concatenate([_sine(10.0, -30), _sine(10.0, -20)])
    loud = _measure(_write(tmp_path / "step.wav", step))
    assert loud.loudness_range_lu == pytest.approx(10.0, abs=1.0)
    assert loud.true_peak_dbtp == pytest.approx(-20.0, abs=0.2)


def test_measure_and_normalise_agree_on_silence(tmp_path):
    # one meter: what normalise refuses as silent, measure reports as having no loudness at all
    silent = _write(tmp_path / "silent.wav", np.zeros(3 * RATE))
    assert _measure(silent).integrated_lufs == -math.inf
    with pytest.raises(LocalizeError, match="silent"):
        normalise(silent, tmp_path / "out.wav", lufs=-16.0, true_peak=-1.0, lra=11.0, rate=RATE)


def test_measure_reads_a_peak_in_the_last_partial_block(tmp_path):
    # ebur128 reports at each completed 100 ms block: a peak in the last 50 ms must still count
    mono = _sine(2.05, -20)
    mono[-100] = 0.9
    loud = _measure(_write(tmp_path / "tail.wav", mono))
    assert loud.true_peak_dbtp == pytest.approx(20 * math.log10(0.9), abs=0.3)
    assert loud.integrated_lufs == pytest.approx(-20.0, abs=0.2)


def test_measure_of_a_file_whose_path_has_filtergraph_characters(tmp_path):
    odd = tmp_path / "ep 1: it's [x],y=z"
    odd.mkdir()
    loud = _measure(_write(odd / "sine.wav", _sine(3.0, -20)))
    assert loud.integrated_lufs == pytest.approx(-20.0, abs=0.2)


R128_REPORT = """frame:0    pts:0       pts_time:0
lavfi.r128.M=-120.691
lavfi.r128.I=-70.000
lavfi.r128.LRA=0.000
lavfi.r128.true_peaks_ch0=0.002
lavfi.r128.true_peaks_ch1=0.002
frame:1    pts:4800    pts_time:0.1
lavfi.r128.M=-19.500
lavfi.r128.I=-18.322
lavfi.r128.LRA=6.820
lavfi.r128.LRA.low=-23.060
lavfi.r128.true_peaks_ch0=0.500
lavfi.r128.true_peaks_ch1=0.892
lavfi.r128.true_peak=0.892
"""


def test_r128_reading_takes_the_last_running_values():
    found = r128_reading(R128_REPORT)
    assert found["integrated_lufs"] == -18.322 and found["loudness_range_lu"] == 6.82
    assert found["true_peak_dbtp"] == pytest.approx(20 * math.log10(0.892), abs=0.01)  # linear -> dBTP, max over channels


def test_r128_reading_of_nothing_over_the_gate_is_minus_infinity():
    silent = "frame:0 pts:0 pts_time:0\nlavfi.r128.I=-70.000\nlavfi.r128.LRA=0.000\nlavfi.r128.true_peaks_ch0=0.000\n"
    found = r128_reading(silent)
    assert found["integrated_lufs"] == -math.inf and found["true_peak_dbtp"] == -math.inf
    assert found["loudness_range_lu"] == 0.0


def test_r128_reading_without_metadata_is_an_internal_error():
    with pytest.raises(RuntimeError) as raised:
        r128_reading("frame:0 pts:0 pts_time:0\n")
    assert not isinstance(raised.value, LocalizeError)


# -- normalise ---------------------------------------------------------------------------------------


def test_normalise_honours_the_target_loudness_range(tmp_path):
    src = _write(tmp_path / "raw.wav", _quiet_then_loud())
    source_lra = _measure(src).loudness_range_lu
    assert source_lra > 7.0  # the signal has a range worth compressing
    out = {}
    for lra in (4.0, 20.0):
        normalise(src, tmp_path / f"lra{lra:g}.wav", lufs=-16.0, true_peak=-1.0, lra=lra, rate=RATE)
        out[lra] = _measure(tmp_path / f"lra{lra:g}.wav")
    narrow, wide = out[4.0], out[20.0]
    assert narrow.loudness_range_lu < wide.loudness_range_lu - 2.0
    assert narrow.loudness_range_lu <= 4.0 + 1.0
    assert narrow.loudness_range_lu < source_lra - 2.0
    assert wide.loudness_range_lu == pytest.approx(source_lra, abs=1.0)  # within target: a linear gain
    for loud in out.values():
        assert abs(loud.integrated_lufs - -16.0) <= 1.0
        assert loud.true_peak_dbtp <= -1.0 - CODEC_HEADROOM_DB + 0.2


def test_normalise_writes_the_asked_rate_and_length(tmp_path):
    src = _write(tmp_path / "raw.wav", _quiet_then_loud(seconds=6.0))
    normalise(src, tmp_path / "mix.wav", lufs=-14.0, true_peak=-1.0, lra=4.0, rate=RATE)
    info = sf.info(tmp_path / "mix.wav")
    assert info.samplerate == RATE and info.channels == 2
    assert info.frames == pytest.approx(6 * RATE, abs=RATE // 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav", "raw.wav"]  # no intermediate left


def test_normalise_reaches_the_target_on_peaky_dialogue(tmp_path):
    # short loud clicks over quiet speech-like noise: a gain alone would clip, the limiter takes the peaks
    n = 8 * RATE
    t = np.arange(n) / RATE
    mono = 0.03 * _voice_band_noise(n, 3) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2
    mono[:: RATE // 2] = 0.9
    src = _write(tmp_path / "raw.wav", mono)
    normalise(src, tmp_path / "mix.wav", lufs=-14.0, true_peak=-1.0, lra=11.0, rate=RATE)
    loud = _measure(tmp_path / "mix.wav")
    assert loud.integrated_lufs == pytest.approx(-14.0, abs=0.3)
    assert loud.true_peak_dbtp <= -1.0 - CODEC_HEADROOM_DB + 0.2
