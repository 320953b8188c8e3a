"""Benchmark background separation (localize.stages.mix.separate) on mixes of real voice over real music.

The mixes, at 48 kHz:
- voice: LJ001-0001..0008.wav (LJSpeech, public domain) and jfk.flac (JFK 1961, public domain) from
  ../shared/media/speech, trimmed of their silences (librosa.effects.trim, 35 dB), resampled to
  48 kHz and placed one after another with 1-3 s gaps (fixed seed); the true speech spans are
  where they were placed. Centred: the same voice in both channels.
- music: the Debian package asterisk-moh-opsound-wav (/usr/share/asterisk/moh, CC BY-SA 3.0),
  8 kHz mono tracks resampled to 48 kHz (so they hold nothing above 4 kHz; the voice does). Made
  stereo with some width: the right channel 0.25 ms later and through a gentle one-pole low-pass,
  the left as is. Also a mono mix of the same parts (the harder case: no side channel).
- level: the voice's RMS over its spans sits `--voice-over-bed` dB above the bed's RMS.

Methods, each giving a background estimate:
- classic: ClassicSeparator (mid/side auto + span-gated Wiener mask), default options;
- classic-no-ms: the same with mid_side="off" (every channel masked on its own);
- mid/side only: inside the spans (with localize.stages.mix.mixer's 80 ms ramps) the mid channel is dropped and
  only the side kept (stereo only);
- ducked -15 dB: what localize/stages/mix/mixer.py does today, the original times the duck envelope.

Scores (localize/stages/mix/separate/scoring.py, computed here, not museval): SDR of the estimate against the
true bed overall and inside the speech spans; inside the spans, the bed energy kept and the voice
energy leaked (projection per bin and span onto the true bed and voice); the separator's
real-time factor (seconds per second of audio), also on a 3-minute 48 kHz stereo episode.

    .venv/bin/python bench/bench_separation.py [--voice-over-bed 10] [--results DIR]

Writes bench/results/separation.json and separation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_info  # bench/machine.py (this folder is on sys.path)

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from localize.stages.mix.separate import SeparateOptions  # noqa: E402
from localize.stages.mix.separate.classic import ClassicSeparator  # noqa: E402
from localize.stages.mix.separate.scoring import decompose, ducked, in_spans, sdr_db  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media" / "speech"
MOH = Path("/usr/share/asterisk/moh")
RATE = 48_000
VOICES = [f"en/ljspeech/LJ001-000{i}.wav" for i in range(1, 9)] + ["en/jfk.flac"]
TRACKS = ["macroform-cold_day.wav", "macroform-robot_dity.wav", "macroform-the_simplicity.wav",
          "manolo_camp-morning_coffee.wav", "reno_project-system.wav"]


def to_rate(x: np.ndarray, rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(RATE, rate)
    return resample_poly(x, RATE // g, rate // g).astype(np.float32)


def load_voice(paths: list[Path], seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The voices placed one after another with 1-3 s gaps, and their spans (ms)."""
    import librosa

    rng = np.random.default_rng(seed)
    pieces, spans, t = [], [], int(1.5 * RATE)
    for path in paths:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
        x, _ = librosa.effects.trim(x.mean(axis=1), top_db=35)
        x = to_rate(x / (np.sqrt(np.mean(x ** 2)) + 1e-9), rate)
        pieces.append((t, x))
        spans.append((t * 1000 // RATE, (t + len(x)) * 1000 // RATE))
        t += len(x) + int(rng.uniform(1.0, 3.0) * RATE)
    voice = np.zeros(t + RATE, dtype=np.float32)
    for start, x in pieces:
        voice[start:start + len(x)] += x
    return voice, spans


def load_bed(path: Path, n: int, offset_s: float = 20.0) -> np.ndarray:
    """A music track at 48 kHz, `n` samples from `offset_s` on (looped if short), stereo with width."""
    from scipy.signal import lfilter

    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = to_rate(x.mean(axis=1), rate)
    start = min(int(offset_s * RATE), max(len(x) - n, 0))
    x = np.resize(x[start:], n)
    delay = int(0.00025 * RATE)
    right = np.concatenate([np.zeros(delay, np.float32), x[:-delay]])
    right = lfilter([0.6], [1, -0.4], right).astype(np.float32)  # one-pole low-pass, unity at DC
    return np.stack([x, right], axis=1)


def build_mix(voice: np.ndarray, spans, bed: np.ndarray, voice_over_bed_db: float, stereo: bool):
    """(mix, bed, voice) as (samples, channels), the voice scaled to sit above the bed."""
    inside = in_spans(len(voice), RATE, spans)
    if not stereo:
        bed = bed.mean(axis=1, keepdims=True)
    v_rms = np.sqrt(np.mean(voice[inside] ** 2))
    b_rms = np.sqrt(np.mean(bed ** 2))
    bed = bed * (v_rms / b_rms) * 10 ** (-voice_over_bed_db / 20) * 0.1 / v_rms
    v = np.repeat((voice * 0.1 / v_rms)[:, None], bed.shape[1], axis=1)
    return (bed + v).astype(np.float32), bed.astype(np.float32), v.astype(np.float32)


def mid_side_only(mix: np.ndarray, spans) -> np.ndarray:
    mid, side = 0.5 * (mix[:, 0] + mix[:, 1]), 0.5 * (mix[:, 0] - mix[:, 1])
    mid = ducked(mid[:, None], RATE, spans, -100.0)[:, 0]
    return np.stack([mid + side, mid - side], axis=1)


def score(name: str, bed, voice, estimate, spans, seconds: float | None = None) -> dict:
    inside = in_spans(len(bed), RATE, spans)
    d = decompose(bed, voice, estimate, RATE, spans)
    row = {
        "method": name,
        "sdr_db": round(sdr_db(bed, estimate), 2),
        "sdr_in_speech_db": round(sdr_db(bed, estimate, inside), 2),
        "bed_kept_db": round(d.bed_kept_db, 2),
        "voice_leak_db": round(d.voice_leak_db, 2),
        "artifacts_db": round(d.artifacts_db, 2),
    }
    if seconds is not None:
        row["rtf"] = round(seconds / (len(bed) / RATE), 4)
    return row


def run_separator(options: SeparateOptions, mix: np.ndarray, spans, tmp: Path) -> tuple[np.ndarray, float]:
    src = tmp / "mix.wav"
    sf.write(src, mix, RATE, subtype="FLOAT")
    sep = ClassicSeparator(options)
    t0 = time.perf_counter()
    _, bg_path = sep.separate(src, spans, tmp / "out")
    seconds = time.perf_counter() - t0
    bg, _ = sf.read(bg_path, dtype="float32", always_2d=True)
    return bg, seconds


def episode_timing(tmp: Path) -> dict:
    """Wall time of the separator on a 3-minute 48 kHz stereo episode (noise bed, 40 lines)."""
    rng = np.random.default_rng(1)
    n = 180 * RATE
    mix = (0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    spans = [(1000 + 4400 * i, 1000 + 4400 * i + 2800) for i in range(40)]
    src = tmp / "episode.wav"
    sf.write(src, mix, RATE, subtype="FLOAT")
    sep = ClassicSeparator()
    t0 = time.perf_counter()
    sep.separate(src, spans, tmp / "episode")
    seconds = time.perf_counter() - t0
    return {"audio_s": 180, "seconds": round(seconds, 2), "seconds_per_audio_minute": round(seconds / 3, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voice-over-bed", type=float, default=10.0)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    if not MEDIA.exists() or not MOH.exists():
        sys.exit(f"needs {MEDIA} and {MOH} (apt-get install asterisk-moh-opsound-wav)")
    voice, spans = load_voice([MEDIA / v for v in VOICES])
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for track in TRACKS:
            stereo_bed = load_bed(MOH / track, len(voice))
            for stereo in (True, False):
                mix, bed, v = build_mix(voice, spans, stereo_bed, args.voice_over_bed, stereo)
                layout = "stereo" if stereo else "mono"
                base = {"track": track, "layout": layout}
                bg, sec = run_separator(SeparateOptions(), mix, spans, tmp)
                rows.append({**base, **score("classic", bed, v, bg, spans, sec)})
                if stereo:
                    bg, sec = run_separator(SeparateOptions(mid_side="off"), mix, spans, tmp)
                    rows.append({**base, **score("classic-no-ms", bed, v, bg, spans, sec)})
                    rows.append({**base, **score("mid/side only", bed, v, mid_side_only(mix, spans), spans)})
                rows.append({**base, **score("ducked -15 dB", bed, v, ducked(mix, RATE, spans, -15.0), spans)})
                print(json.dumps(rows[-1]), file=sys.stderr)
        timing = episode_timing(tmp)
    summary = {}
    for layout in ("stereo", "mono"):
        for method in dict.fromkeys(r["method"] for r in rows if r["layout"] == layout):
            sel = [r for r in rows if r["layout"] == layout and r["method"] == method]
            summary[f"{layout}/{method}"] = {
                k: round(float(np.mean([r[k] for r in sel])), 2)
                for k in ("sdr_db", "sdr_in_speech_db", "bed_kept_db", "voice_leak_db", "artifacts_db")
            } | {f"min_{k}": round(float(np.min([r[k] for r in sel])), 2)
                 for k in ("sdr_in_speech_db",)} | {f"max_{k}": round(float(np.max([r[k] for r in sel])), 2)
                                                     for k in ("voice_leak_db",)}
    speech_s = sum(b - a for a, b in spans) / 1000
    result = {
        "machine": machine_info(torch_threads=os.environ.get("OMP_NUM_THREADS", "default")),
        "setup": {"rate": RATE, "voice_over_bed_db": args.voice_over_bed, "mix_s": round(len(voice) / RATE, 1),
                  "speech_s": round(speech_s, 1), "lines": len(spans), "voices": VOICES, "tracks": TRACKS,
                  "sdr": "computed in localize/stages/mix/separate/scoring.py (plain SDR; per-bin projection for kept/leak)"},
        "summary": summary,
        "episode_timing": timing,
        "rows": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "separation.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (args.results / "separation.md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict) -> str:
    m, s = result["machine"], result["setup"]
    out = [
        "# Background separation", "",
        f"{m['date']}, {m['cpu_model']}, {m['nproc']} cores, Python {m['python']}.", "",
        f"{s['lines']} real voice lines ({s['speech_s']} s of speech in a {s['mix_s']} s mix, 48 kHz) over "
        f"{len(s['tracks'])} real music tracks (asterisk-moh-opsound, 8 kHz sources), voice "
        f"{s['voice_over_bed_db']:g} dB over the bed. Means over the tracks; SDRs computed by "
        "localize/stages/mix/separate/scoring.py (plain SDR, not museval).", "",
        "| layout / method | SDR dB | SDR in speech dB (min) | bed kept in speech dB | voice leak dB (max) | artifacts dB |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in result["summary"].items():
        out.append(f"| {key} | {r['sdr_db']} | {r['sdr_in_speech_db']} ({r['min_sdr_in_speech_db']}) | "
                   f"{r['bed_kept_db']} | {r['voice_leak_db']} ({r['max_voice_leak_db']}) | {r['artifacts_db']} |")
    t = result["episode_timing"]
    out += ["", f"Classic separator on a 3-minute 48 kHz stereo episode: {t['seconds']} s "
            f"({t['seconds_per_audio_minute']} s per minute of audio).", "",
            "Per track: separation.json (`rows`).", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
