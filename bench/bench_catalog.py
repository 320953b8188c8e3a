"""Benchmark a catalog batch: throughput against single runs, and resuming after kills.

One invocation does, on this machine:

1. cuts N short episodes with speech: half from samples/episode.mp4 (Spanish), half from
   ../shared/media/video/talking_man_outdoors.mp4 (Spanish too), two series, each into --market (3 by default);
2. batch: ``localize batch catalog.toml`` into a fresh folder (local process pool), timed;
3. singles: ``localize run EP -m ... `` once per episode, each with a fresh cache (today's way), timed and summed;
4. crash: ``localize batch`` into another fresh folder, SIGKILLed at a random time --kills times, then run to
   the end; its outputs are compared with the batch's (sha256 of every video and subtitle file) and its events
   show whether a finished job or a cached stage was done twice.

Writes bench/results/catalog.json and catalog.md.

    .venv/bin/python bench/bench_catalog.py [--episodes 10] [--seconds 6] [--kills 3] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from machine import machine_info  # bench/machine.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SOURCES = {  # series -> (source video, its language)
    "sample-es": (ROOT / "samples" / "episode.mp4", "es"),
    "talking-es": (ROOT.parent / "shared" / "media" / "video" / "talking_man_outdoors.mp4", "es"),
}
LOCALIZE = [sys.executable, "-m", "localize"]


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def make_catalog(work: Path, episodes: int, seconds: float, markets: list[str], tts: str) -> tuple[Path, list]:
    """Cut the episodes (different start points of each source) and write the catalog."""
    made = []
    blocks = []
    per_series = {name: episodes // len(SOURCES) + (i < episodes % len(SOURCES)) for i, name in enumerate(SOURCES)}
    for name, (src, language) in SOURCES.items():
        if not src.is_file():
            sys.exit(f"{src} is absent; this benchmark needs ../shared/media")
        folder = work / "eps" / name
        folder.mkdir(parents=True)
        span = max(0.0, duration(src) - seconds)
        for i in range(per_series[name]):
            start = span * i / max(1, per_series[name] - 1)
            ep = folder / f"{name}-{i + 1:02d}.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{start:.2f}", "-i", str(src), "-t", str(seconds),
                            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "aac", str(ep)], check=True)
            made.append((name, language, ep))
        blocks.append(f'[[series]]\nname = "{name}"\nepisodes = ["eps/{name}/*.mp4"]\nlanguage = "{language}"\n'
                      f"markets = {json.dumps(markets)}\n")
    catalog = work / "catalog.toml"
    catalog.write_text(f'[defaults]\ntts_backend = "{tts}"\n\n' + "\n".join(blocks), encoding="utf-8")
    return catalog, made


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def events(out: Path) -> list[dict]:
    found = []
    for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:  # a line cut by the kill
            pass
    return found


def outputs(out: Path) -> dict[str, str]:
    """sha256 of every video and subtitle file under out/<series>/<episode>/<market>/."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("*/*/*/*")) if p.name in ("video.mp4", "subtitles.srt", "subtitles.vtt",
                                                                 "subtitles.ass", "script.json")}


def differing_artifacts(a: Path, b: Path) -> dict[str, int]:
    """Per stage, how many artifacts with the same key hold different files in the two caches."""
    found: Counter[str] = Counter()
    for left in sorted(a.glob("*/*/*")):
        right = b / left.relative_to(a)
        if left.name.startswith(".") or not right.is_dir():
            continue
        files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
        if files != sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file()) or any(
                not same_file(left / f, right / f) for f in files):
            found[left.parts[-3]] += 1
    return dict(found)


def same_file(a: Path, b: Path) -> bool:
    """Same bytes; for WAV, the same samples (libsndfile stamps float WAVs' PEAK chunk with the time)."""
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix == ".wav":
        import numpy as np
        import soundfile as sf

        return bool(np.array_equal(sf.read(a)[0], sf.read(b)[0]))
    return False


def crash_run(catalog: Path, out: Path, workers: list[str], kills: int, horizon: float, rng: random.Random) -> dict:
    killed_at = []
    for _ in range(kills):
        delay = rng.uniform(3.0, max(4.0, horizon))
        proc = subprocess.Popen([*LOCALIZE, "batch", str(catalog), "--out", str(out), *workers,
                                 "--cache-dir", str(out / ".cache")],
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
            killed_at.append({"after_s": round(delay, 1), "killed": False})  # it finished first
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            done = sum(1 for e in events(out) if e["event"] == "job_finished")
            killed_at.append({"after_s": round(delay, 1), "killed": True, "jobs_finished_so_far": done})
    final = timed([*LOCALIZE, "batch", str(catalog), "--out", str(out), *workers, "--cache-dir", str(out / ".cache")])
    log = events(out)
    finished = [e for e in log if e["event"] == "job_finished"]
    jobs_twice = [j for j, n in Counter(e["job"] for e in finished).items() if n > 1]
    built = Counter(b for e in finished for b in e["built"])
    batches = [i for i, e in enumerate(log) if e["event"] == "batch_started"]
    resumed = [e for e in finished if batches and log.index(e) > batches[0]]
    return {"kills": killed_at, "final_run_s": round(final, 1), "jobs_finished_twice": jobs_twice,
            "stages_built_twice": [b for b, n in built.items() if n > 1], "stages_built": len(built),
            "reused_by_resumed_jobs": sum(len(e["reused"]) for e in resumed),
            "recovered_jobs": sum(1 for e in log if e["event"] == "job_recovered")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each episode")
    parser.add_argument("--market", dest="markets", action="append", help="default: en-US pt-BR es-ES")
    parser.add_argument("--tts", default="espeak", help="TTS backend for every market (see the README on Piper)")
    parser.add_argument("--workers", type=int, help="batch workers (default: localize's choice)")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, help="copy the work folder (episodes, outputs, caches) here")
    args = parser.parse_args()
    markets = args.markets or ["en-US", "pt-BR", "es-ES"]
    workers = ["--workers", str(args.workers)] if args.workers else []
    info = machine_info(episodes=args.episodes, seconds=args.seconds, markets=markets, tts=args.tts)
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        work = Path(tmp)
        catalog, made = make_catalog(work, args.episodes, args.seconds, markets, args.tts)
        episode_minutes = sum(duration(ep) for _, _, ep in made) / 60
        print(f"{len(made)} episodes ({episode_minutes:.2f} episode-minutes) x {len(markets)} markets")

        batch_s = timed([*LOCALIZE, "batch", str(catalog), "--out", str(work / "batch"), *workers,
                         "--cache-dir", str(work / "batch" / ".cache")])
        batch_events = events(work / "batch")
        pool = next(e["workers"] for e in batch_events if e["event"] == "batch_started")
        print(f"batch: {batch_s:.1f} s on {pool} workers")
        rerun_s = timed([*LOCALIZE, "batch", str(catalog), "--out", str(work / "batch"), *workers,
                         "--cache-dir", str(work / "batch" / ".cache")])
        print(f"re-run (nothing to do): {rerun_s:.1f} s")

        singles = []
        for i, (_, language, ep) in enumerate(made):
            argv = [*LOCALIZE, "run", str(ep), *[a for m in markets for a in ("-m", m)], "--language", language,
                    "--tts-backend", args.tts, "--out", str(work / "single"), "--cache-dir", str(work / f"c{i}")]
            singles.append(timed(argv))
            print(f"single {ep.name}: {singles[-1]:.1f} s")
        singles_s = sum(singles)

        crash = crash_run(catalog, work / "crash", workers, args.kills, 0.7 * batch_s, random.Random(args.seed))
        reference, resumed = outputs(work / "batch"), outputs(work / "crash")
        differing = sorted(k for k in reference if resumed.get(k) != reference[k])
        artifacts = {name: sum(1 for p in (work / name / ".cache").glob("*/*/*") if not p.name.startswith("."))
                     for name in ("batch", "crash")}
        stages_differing = differing_artifacts(work / "batch" / ".cache", work / "crash" / ".cache")
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    result = {
        "machine": info, "episodes": len(made), "episode_minutes": round(episode_minutes, 3), "markets": markets,
        "workers": pool, "batch_s": round(batch_s, 1), "rerun_s": round(rerun_s, 1),
        "singles_s": [round(s, 1) for s in singles], "singles_sum_s": round(singles_s, 1),
        "batch_over_singles": round(batch_s / singles_s, 3),
        "episode_minutes_per_hour": round(episode_minutes / (batch_s / 3600), 2),
        "episode_minutes_per_hour_singles": round(episode_minutes / (singles_s / 3600), 2),
        "crash": crash, "outputs_compared": len(reference), "outputs_differing": differing,
        "artifacts": artifacts, "artifacts_differing_by_stage": stages_differing,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "catalog.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.results / "catalog.md").write_text(report(result), encoding="utf-8")
    print(report(result))


def report(r: dict) -> str:
    m, c = r["machine"], r["crash"]
    kills = ", ".join(f"{k['after_s']} s" + ("" if k["killed"] else " (had finished)") for k in c["kills"])
    return f"""# Catalog batch benchmark

- machine: {m['cpu_model']}, nproc {m['nproc']}, load average at start {m['load_average_at_start']}, Python {m['python']}, {m['ffmpeg']}, {m['date']}
- catalog: {r['episodes']} episodes of {m['seconds']:g} s (two series: cuts of samples/episode.mp4 and of
  talking_man_outdoors.mp4, both Spanish), {r['episode_minutes']:.2f} episode-minutes, into {', '.join(r['markets'])}
  ({len(r['markets'])} markets; TTS {m['tts']}); the batch ran on {r['workers']} local workers
- batch = `localize batch catalog.toml --out A`; singles = `localize run EP -m ... --cache-dir FRESH` once per episode
  (the tool before catalogs), run one after the other; both include process start and model loads.

## Throughput

| | wall (s) | episode-minutes per hour |
|---|---:|---:|
| batch | {r['batch_s']} | {r['episode_minutes_per_hour']} |
| sum of {r['episodes']} single runs | {r['singles_sum_s']} | {r['episode_minutes_per_hour_singles']} |
| batch re-run (all done) | {r['rerun_s']} | |

batch wall / sum of single runs: **{r['batch_over_singles']}**

## Crash and resume

- killed with SIGKILL (whole process group) after: {kills}; then run to the end ({c['final_run_s']} s for the last run)
- jobs left `running` by a kill and resumed: {c['recovered_jobs']}
- outputs compared with the uninterrupted batch (video, subtitles, script per market): {r['outputs_compared']},
  differing: {len(r['outputs_differing'])} {r['outputs_differing'] or ''}
- finished jobs run twice: {len(c['jobs_finished_twice'])}; cached stages built twice: {len(c['stages_built_twice'])}
  (of {c['stages_built']} built); cached stages the resumed jobs reused: {c['reused_by_resumed_jobs']}
- artifacts in the caches: uninterrupted {r['artifacts']['batch']}, killed and resumed {r['artifacts']['crash']};
  same key but different files, per stage: {r['artifacts_differing_by_stage'] or 'none'}

Re-run: `.venv/bin/python bench/bench_catalog.py` (`--episodes 2 --kills 1` for a quick look).
"""


if __name__ == "__main__":
    main()
