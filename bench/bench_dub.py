"""Dub timing and loudness on the sample and on a longer real-speech episode.

Episodes:
- samples/episode.mp4 (10 s, Spanish) into en-US and pt-BR;
- a 50 s English episode built from real parts: the eight LJSpeech clips of ../shared/media (one
  reader, public domain) one after another with 0.4 s pauses, over the picture of
  standing_woman_noaudio.mp4 (looped), into pt-BR and es-ES.

Per market: the share of lines whose dub sits inside its slot (start no earlier than 100 ms before
it, end no later than 100 ms after it); the share whose dub starts AND ends within 100 ms of the
slot's edges; the fit decisions (fits / stretched / borrowed / over-cap / overflow); the speed
factors (min, median, p90, max); the render's integrated loudness and true peak against the target.

    .venv/bin/python bench/bench_dub.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def build_long_episode(tmp: Path) -> Path:
    clips = sorted((MEDIA / "speech" / "en" / "ljspeech").glob("LJ001-000*.wav"))
    inputs, filters = [], []
    for i, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        filters.append(f"[{i}:a]aresample=48000,apad=pad_dur=0.4[a{i}]")
    concat = "".join(f"[a{i}]" for i in range(len(clips))) + f"concat=n={len(clips)}:v=0:a=1[speech]"
    video = MEDIA / "video" / "standing_woman_noaudio.mp4"
    out = tmp / "ljspeech_episode.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-stream_loop", "-1", "-i", str(video),
                    "-filter_complex", ";".join([*filters, concat]), "-map", f"{len(clips)}:v", "-map", "[speech]",
                    "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-c:a", "aac", str(out)],
                   check=True)
    return out


def summarise(result) -> list[dict]:
    rows = []
    for m in result.markets:
        lines = [ln for ln in m.report.lines if ln.decision]
        speeds = sorted(ln.speed for ln in lines)
        inside = sum(ln.dub_start_ms >= ln.slot_start_ms - 100 and ln.dub_end_ms <= ln.slot_end_ms + 100
                     for ln in lines)
        edges = sum(abs(ln.dub_start_ms - ln.slot_start_ms) <= 100 and abs(ln.dub_end_ms - ln.slot_end_ms) <= 100
                    for ln in lines)
        loud = m.report.loudness
        rows.append({
            "market": m.market, "lines": len(lines), "inside_slot_100ms": inside, "edges_within_100ms": edges,
            "decisions": dict(Counter(ln.decision for ln in lines)),
            "speed": {"min": speeds[0], "median": statistics.median(speeds), "max": speeds[-1],
                      "p90": speeds[int(0.9 * (len(speeds) - 1))]} if speeds else {},
            "gain_db": [ln.gain_db for ln in lines],
            "loudness": {"target": loud.target_lufs, "integrated": loud.integrated_lufs,
                         "true_peak": loud.true_peak_dbtp, "within_1_lu": abs(loud.integrated_lufs - loud.target_lufs) <= 1.0},
        })
    return rows


def main() -> int:
    import localize
    from localize.core.options import RunOptions

    runs = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        episodes = [("sample (es, 10 s)", ROOT / "samples" / "episode.mp4", ["en-US", "pt-BR"])]
        if MEDIA.is_dir():
            episodes.append(("LJSpeech (en, 50 s)", build_long_episode(tmp), ["pt-BR", "es-ES"]))
        else:
            print(f"{MEDIA} is absent: only the sample episode is measured")
        for name, path, markets in episodes:
            t0 = time.perf_counter()
            result = localize.localize_episode(path, markets=markets, out=tmp / "out",
                                               options=RunOptions(cache_dir=tmp / "cache", speakers="off"))
            seconds = time.perf_counter() - t0
            for row in summarise(result):
                runs.append({"episode": name, "seconds": round(seconds, 1), **row})
                s = row["speed"]
                print(f"{name} {row['market']}: {row['inside_slot_100ms']}/{row['lines']} inside the slot, "
                      f"{row['edges_within_100ms']}/{row['lines']} edges within 100 ms; {row['decisions']}; "
                      f"speed median {s.get('median', 0):.2f} p90 {s.get('p90', 0):.2f} max {s.get('max', 0):.2f}; "
                      f"{row['loudness']['integrated']:.1f} LUFS / {row['loudness']['true_peak']:.1f} dBTP")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dub.json").write_text(json.dumps({"machine": machine_info(), "runs": runs}, indent=2))
    md = ["# Dub timing and loudness", "",
          "| episode | market | lines | inside slot ±100 ms | both edges ±100 ms | decisions | speed median / p90 / max "
          "| LUFS (target) | true peak dBTP |", "|---|---|---:|---:|---:|---|---|---|---:|"]
    for r in runs:
        s, ld = r["speed"], r["loudness"]
        md.append(f"| {r['episode']} | {r['market']} | {r['lines']} | {r['inside_slot_100ms']} | "
                  f"{r['edges_within_100ms']} | {', '.join(f'{k} {v}' for k, v in sorted(r['decisions'].items()))} | "
                  f"{s.get('median', 0):.2f} / {s.get('p90', 0):.2f} / {s.get('max', 0):.2f} | "
                  f"{ld['integrated']:.1f} ({ld['target']:.0f}) | {ld['true_peak']:.1f} |")
    md += ["", "Both edges within 100 ms is rare by design: a dub shorter than its line starts on time and ends "
           "early rather than being slowed down.", "", "Re-run: `.venv/bin/python bench/bench_dub.py`"]
    (RESULTS / "dub.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
