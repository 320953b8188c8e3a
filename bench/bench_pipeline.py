"""Benchmark the localize pipeline against a plain ffmpeg re-encode of the same episode.

One invocation does, on this machine:

1. baseline: ``ffmpeg -i EP -c:v libx264 -preset veryfast -crf 20 -c:a aac -b:a 192k`` (the
   encoder settings localize's render uses), timed ``--baseline-repeats`` times; the median counts;
2. a cold ``localize.localize_episode(EP, markets=[...], out=TMP)`` into a fresh temp artifact cache,
   timed per stage through a Progress object (task() -> done());
3. a warm re-run of the same call (every artifact cached);
4. a re-run that adds one more market (``--extra-market``): the transcript must be reused, so no
   'transcribe' task is created.

Then it prints a table plus the ratios, and writes bench/results/pipeline.json and pipeline.md.

Only the public API is used: ``localize.localize_episode``, ``localize.RunOptions``, ``localize.probe``.
Per-stage times are the library's own progress tasks (one per stage and market); a cached stage
opens no task, which is how the runs show what was reused.

    .venv/bin/python bench/bench_pipeline.py [--episode PATH] [--market TAG ...] [--extra-market TAG]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import machine_info as base_machine_info  # bench/machine.py (this folder is on sys.path)

import localize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EPISODE = ROOT / "samples" / "episode.mp4"
DEFAULT_RESULTS = ROOT / "bench" / "results"

# Stages shared by every market, as the library's progress tasks name them.
SHARED_STAGES = ("decode audio", "transcribe", "read subtitles", "speakers", "separate background")

# The render's encoder settings (localize/stages/render/video.py: RenderSpec defaults + visible AI label).
BASELINE_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart"]


# --------------------------------------------------------------------------------------------------
# Recording: a Progress implementation plus a logging handler, both stamping time.perf_counter().


@dataclass
class TaskRecord:
    label: str
    total: int | None
    start: float
    end: float | None = None
    advanced: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start


class _TimedTask:
    def __init__(self, record: TaskRecord) -> None:
        self._record = record

    def advance(self, n: int = 1) -> None:
        self._record.advanced += n

    def done(self) -> None:
        if self._record.end is None:
            self._record.end = time.perf_counter()


@dataclass
class Recorder:
    """Implements localize.core.progress.Progress: task(label, total) -> object with advance()/done()."""

    tasks: list[TaskRecord] = field(default_factory=list)

    def task(self, label: str, total: int | None = None) -> _TimedTask:
        record = TaskRecord(label=label, total=total, start=time.perf_counter())
        self.tasks.append(record)
        return _TimedTask(record)

    def find(self, label: str) -> TaskRecord | None:
        found = [t for t in self.tasks if t.label == label]
        return found[-1] if found else None


# --------------------------------------------------------------------------------------------------
# The runs.


def run_baseline(episode: Path, workdir: Path, repeats: int) -> dict:
    out = workdir / "baseline.mp4"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(episode), *BASELINE_ARGS, str(out)]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return {"argv": argv, "runs_s": times, "median_s": statistics.median(times), "min_s": min(times),
            "output_bytes": out.stat().st_size}


def run_localize(name: str, episode: Path, markets: list[str], out: Path, options) -> dict:
    recorder = Recorder()
    t0 = time.perf_counter()
    result = localize.localize_episode(episode, markets=markets, out=out, options=options, progress=recorder)
    total = time.perf_counter() - t0
    for m in result.markets:
        if not Path(m.video).is_file():
            raise SystemExit(f"{name}: {m.market} wrote no video at {m.video}")
    dubbed = {m.market: m.report.dubbed for m in result.markets}
    return summarise(name, markets, recorder, t0, total, dubbed)


def summarise(name: str, markets: list[str], rec: Recorder, t0: float, total: float,
              dubbed: dict[str, bool]) -> dict:
    def secs(label: str) -> float | None:
        task = rec.find(label)
        return task.seconds if task else None

    shared = {label: secs(label) for label in SHARED_STAGES}
    per_market = {}
    for tag in markets:
        dub = rec.find(f"{tag} dub")
        per_market[tag] = {
            "dubbed": dubbed.get(tag),
            "translate": secs(f"{tag} translate"),
            "dub": secs(f"{tag} dub"),
            "dub_lines": dub.advanced if dub else None,
            "mix": secs(f"{tag} mix"),
            "render": secs(f"{tag} render"),
        }
    measured = sum(v for v in shared.values() if v) + sum(
        sum(m[k] or 0 for k in ("translate", "dub", "mix", "render")) for m in per_market.values())
    transcribed = rec.find("transcribe") is not None
    return {
        "name": name,
        "markets": markets,
        "total_s": total,
        "stages_s": shared,
        "markets_s": per_market,
        "unattributed_s": total - measured,  # probe + sha256, model/voice setup, publish + reports
        "transcribe_task_created": transcribed,
        "script_cache": "building" if transcribed else "reusing",
        "tasks": [{"label": t.label, "total": t.total, "advanced": t.advanced,
                   "start_s": t.start - t0, "seconds": t.seconds} for t in rec.tasks],
    }


# --------------------------------------------------------------------------------------------------
# Machine info and reporting.


def machine_info(episode: Path) -> dict:
    info = localize.probe(episode)
    return base_machine_info(
        localize=localize.__version__, episode=str(episode), episode_duration_s=info.duration_ms / 1000,
        episode_video=f"{info.width}x{info.height}", episode_bytes=episode.stat().st_size,
    )


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def stage_rows(runs: list[dict], all_markets: list[str]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    rows.append(("decode audio", [fmt(r["stages_s"]["decode audio"]) for r in runs]))
    for label in SHARED_STAGES[1:]:
        rows.append((label, [
            fmt(r["stages_s"][label]) if r["stages_s"][label] is not None else "0 (no task, cached)"
            for r in runs]))
    for tag in all_markets:
        for stage in ("translate", "dub", "mix", "render"):
            cells = []
            for r in runs:
                m = r["markets_s"].get(tag)
                if m is None:
                    cells.append("n/a")
                elif stage == "dub" and not m["dubbed"]:
                    cells.append("— (same language, not dubbed)")
                elif stage == "dub" and m["dub"] is None:
                    cells.append("0 (no task, reused)")
                else:
                    cells.append(fmt(m[stage]))
            rows.append((f"{tag} {stage}", cells))
    rows.append(("unattributed", [fmt(r["unattributed_s"]) for r in runs]))
    rows.append(("WHOLE RUN", [fmt(r["total_s"]) for r in runs]))
    return rows


def ratio_rows(result: dict) -> list[tuple[str, str, str]]:
    base = result["baseline"]["median_s"]
    cold, warm, extra = (result["runs"][k]["total_s"] for k in ("cold", "warm", "add_market"))
    return [
        ("cold run / ffmpeg re-encode", f"{cold:.2f} s / {base:.2f} s", f"{cold / base:.1f}x"),
        ("warm run / cold run", f"{warm:.2f} s / {cold:.2f} s", f"{warm / cold:.3f}"),
        ("warm run / ffmpeg re-encode", f"{warm:.2f} s / {base:.2f} s", f"{warm / base:.2f}x"),
        ("+1 market run / cold run", f"{extra:.2f} s / {cold:.2f} s", f"{extra / cold:.3f}"),
    ]


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render_reports(result: dict) -> tuple[str, str]:
    runs = [result["runs"][k] for k in ("cold", "warm", "add_market")]
    headers = ["stage (s)", "cold", "warm", f"+{result['extra_market']}"]
    all_markets = runs[2]["markets"]
    rows = [[name, *cells] for name, cells in stage_rows(runs, all_markets)]
    base = result["baseline"]
    rows.insert(0, ["ffmpeg re-encode (baseline)", fmt(base["median_s"]), "", ""])
    ratios = ratio_rows(result)
    m = result["machine"]
    machine = (f"{m['cpu_model']}, nproc {m['nproc']}, Python {m['python']}, {m['ffmpeg'].split(' Copyright')[0]}, "
               f"{m['date']}; episode {Path(m['episode']).name}: {m['episode_duration_s']:.2f} s, {m['episode_video']}")

    text = "\n".join([
        f"machine: {machine}",
        f"baseline runs: {', '.join(f'{t:.2f}' for t in base['runs_s'])} s (median counts)",
        "",
        text_table(headers, rows),
        "",
        text_table(["ratio", "values", "ratio"], [list(r) for r in ratios]),
        "",
        f"transcribe task created: cold={runs[0]['transcribe_task_created']}, "
        f"warm={runs[1]['transcribe_task_created']}, +market={runs[2]['transcribe_task_created']} "
        f"(script cache: {runs[0]['script_cache']} / {runs[1]['script_cache']} / {runs[2]['script_cache']})",
    ])
    md = "\n".join([
        "# localize pipeline benchmark",
        "",
        f"- machine: {machine}",
        f"- markets: {', '.join(result['markets'])}; third run adds {result['extra_market']}",
        f"- baseline: `{' '.join(['ffmpeg', '-i', 'EP', *BASELINE_ARGS, 'OUT'])}`, "
        f"runs {', '.join(f'{t:.2f}' for t in base['runs_s'])} s, median {base['median_s']:.2f} s",
        "- cold = fresh temp artifact cache (`RunOptions(cache_dir=...)`), first call in the process "
        "(includes imports and model loads); warm = same call again into the same out dir; "
        f"+{result['extra_market']} = same call with one more market.",
        "- \"unattributed\" = whole run minus the "
        "timed tasks (probe + sha256 of the source, backend/voice setup, publishing outputs and reports).",
        "",
        "## Stages (seconds)",
        "",
        md_table(headers, rows),
        "",
        "## Ratios",
        "",
        md_table(["ratio", "values", "ratio"], [list(r) for r in ratios]),
        "",
        f"Transcript reuse: a `transcribe` task was created in the cold run: {runs[0]['transcribe_task_created']}; "
        f"warm run: {runs[1]['transcribe_task_created']}; +{result['extra_market']} run: "
        f"{runs[2]['transcribe_task_created']} (script artifact: {runs[0]['script_cache']} / "
        f"{runs[1]['script_cache']} / {runs[2]['script_cache']}).",
        "",
        f"Reproduce: `{' '.join(['.venv/bin/python', 'bench/bench_pipeline.py', *result['argv']])}`",
        "",
    ])
    return text, md


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episode", type=Path, default=DEFAULT_EPISODE)
    ap.add_argument("--market", action="append", dest="markets", metavar="TAG",
                    help="market for the cold/warm runs (repeatable; default en-US and pt-BR)")
    ap.add_argument("--extra-market", default="es-ES", metavar="TAG", help="market the third run adds (default es-ES)")
    ap.add_argument("--baseline-repeats", type=int, default=3)
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where pipeline.json/.md go")
    ap.add_argument("--keep", action="store_true", help="keep the temp out/cache dir (its path is printed)")
    args = ap.parse_args(argv)
    episode = args.episode.resolve()
    markets = list(dict.fromkeys(args.markets or ["en-US", "pt-BR"]))
    if args.extra_market in markets:
        ap.error(f"--extra-market {args.extra_market} is already among --market")

    machine = machine_info(episode)
    tmp = Path(tempfile.mkdtemp(prefix="localize-bench-"))
    try:
        out, cache = tmp / "out", tmp / "cache"
        options = localize.RunOptions(cache_dir=cache)
        print(f"episode {episode} ({machine['episode_duration_s']:.2f} s); temp dir {tmp}", flush=True)
        print(f"baseline: ffmpeg re-encode x{args.baseline_repeats} ...", flush=True)
        baseline = run_baseline(episode, tmp, args.baseline_repeats)
        runs = {}
        for key, ms in (("cold", markets), ("warm", markets), ("add_market", [*markets, args.extra_market])):
            print(f"{key}: localize_episode(markets={ms}) ...", flush=True)
            runs[key] = run_localize(key, episode, ms, out, options)
            print(f"  {runs[key]['total_s']:.2f} s", flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine,
        "markets": markets,
        "extra_market": args.extra_market,
        "baseline": baseline,
        "runs": runs,
        "ratios": {
            "cold_over_ffmpeg": runs["cold"]["total_s"] / baseline["median_s"],
            "warm_over_cold": runs["warm"]["total_s"] / runs["cold"]["total_s"],
            "warm_over_ffmpeg": runs["warm"]["total_s"] / baseline["median_s"],
            "add_market_over_cold": runs["add_market"]["total_s"] / runs["cold"]["total_s"],
        },
    }
    text, md = render_reports(result)
    print()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "pipeline.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.results / "pipeline.md").write_text(md)
    print(f"\nwrote {args.results / 'pipeline.json'} and {args.results / 'pipeline.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
