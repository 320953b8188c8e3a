"""Benchmark the localize pipeline against a plain ffmpeg re-encode of the same episode.

One invocation does, on this machine:

1. baseline: ``ffmpeg -i EP -c:v libx264 -preset veryfast -crf 20 -c:a aac -b:a 192k`` (the
   encoder settings localize's render uses), timed ``--baseline-repeats`` times; the median counts;
2. a cold ``localize.localize_episode(EP, markets=[...], out=TMP)`` into a fresh temp artifact cache,
   timed per stage through a Progress object (task() -> done());
3. a warm re-run of the same call (every artifact cached);
4. a re-run that adds one more market (``--extra-market``): the transcript must be reused, so no
   'transcribe' task is created;
5. with ``--edit``: a reviewer's edit of one line of the first market, re-rendered through
   ``localize.relocalize`` (only that line is translated and voiced again; mix and render follow).

Peak RSS of this process (models loaded) is recorded, and each task's resident memory when it ends.

``--real-size`` is the issue-19 mode: ``../shared/media/drama/episode_B.mp4`` (46.6 s, 1080x1920), markets
en-US then pt-BR, es-MX added, one line edited, and the ratios to the episode's duration as well as to the
re-encode.

Then it prints a table plus the ratios, and writes bench/results/pipeline.json and pipeline.md.

Only the public API is used: ``localize.localize_episode``, ``localize.RunOptions``, ``localize.probe``.
Per-stage times are the library's own progress tasks (one per stage and market); a cached stage
opens no task, which is how the runs show what was reused.

    .venv/bin/python bench/bench_pipeline.py [--episode PATH] [--market TAG ...] [--extra-market TAG] [--edit]
    .venv/bin/python bench/bench_pipeline.py --real-size      # episode B; results in pipeline-real.{json,md}
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
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
REAL_EPISODE = ROOT.parent / "shared" / "media" / "drama" / "episode_B.mp4"
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
    rss_end_mb: float = 0.0  # resident memory when the task ended
    peak_mb: float = 0.0  # the process's peak so far, then

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
            self._record.rss_end_mb = rss_mb()
            self._record.peak_mb = peak_rss_mb()["self"]


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


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process so far (MB), its models loaded. (Children are not counted:
    getrusage's figure for them includes forks of this process, which start at its size.)"""
    return {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_edit(market_dir: Path) -> dict:
    """A reviewer's edit of one line (the longest one, text changed), re-rendered through relocalize."""
    script = json.loads((market_dir / "script.json").read_text())
    line = max(script["lines"], key=lambda ln: len(ln["target_text"]))
    edit = localize.LineOverride(id=line["id"], source_text=line["source_text"],
                                 target_text=line["target_text"].rstrip(".!?") + ", I promise.")
    recorder = Recorder()
    chunk_log = logging.getLogger("localize.stages.render.chunks")
    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    chunk_log.addHandler(handler)
    chunk_log.setLevel(logging.INFO)
    t0 = time.perf_counter()
    try:
        result = localize.relocalize(market_dir, [edit], progress=recorder)
    finally:
        chunk_log.removeHandler(handler)
    total = time.perf_counter() - t0
    text = json.loads(Path(result.script).read_text())
    if not any(ln["target_text"] == edit.target_text for ln in text["lines"]):
        raise SystemExit(f"edit: the re-rendered {market_dir.name} does not carry the edited line {edit.id}")
    summary = summarise("edit", [market_dir.name], recorder, t0, total, {market_dir.name: result.report.dubbed})
    summary["edited_line"] = edit.id
    summary["render_chunks"] = said  # "render: 2 of 12 chunks of ... encoded, the rest reused"
    return summary


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
                   "start_s": t.start - t0, "seconds": t.seconds, "rss_end_mb": round(t.rss_end_mb),
                   "peak_mb": round(t.peak_mb)} for t in rec.tasks],
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
    duration = result["machine"]["episode_duration_s"]
    runs = result["runs"]
    cold, warm, extra = (runs[k]["total_s"] for k in ("cold", "warm", "add_market"))
    added = extra - warm  # the added market's own time: the others are cached
    rows = [
        ("cold run / ffmpeg re-encode", f"{cold:.2f} s / {base:.2f} s", f"{cold / base:.1f}x"),
        ("cold run / episode duration", f"{cold:.2f} s / {duration:.2f} s", f"{cold / duration:.2f}x"),
        ("warm run / cold run", f"{warm:.2f} s / {cold:.2f} s", f"{warm / cold:.3f}"),
        ("warm run / episode duration", f"{warm:.2f} s / {duration:.2f} s", f"{warm / duration:.3f}x"),
        ("warm run / ffmpeg re-encode", f"{warm:.2f} s / {base:.2f} s", f"{warm / base:.2f}x"),
        ("+1 market run / cold run", f"{extra:.2f} s / {cold:.2f} s", f"{extra / cold:.3f}"),
        (f"added market ({result['extra_market']}) / episode duration", f"{added:.2f} s / {duration:.2f} s",
         f"{added / duration:.2f}x"),
    ]
    if "edit" in runs:
        edit = runs["edit"]["total_s"]
        rows.append(("one-line edit re-rendered / cold run", f"{edit:.2f} s / {cold:.2f} s", f"{edit / cold:.3f}"))
    return rows


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
    keys = [k for k in ("cold", "warm", "add_market", "edit") if k in result["runs"]]
    runs = [result["runs"][k] for k in keys]
    headers = ["stage (s)", "cold", "warm", f"+{result['extra_market']}",
               *(["one-line edit"] if "edit" in keys else [])]
    all_markets = runs[2]["markets"]
    rows = [[name, *cells] for name, cells in stage_rows(runs, all_markets)]
    base = result["baseline"]
    rows.insert(0, ["ffmpeg re-encode (baseline)", fmt(base["median_s"]), *[""] * (len(keys) - 1)])
    rows.append(["peak RSS, this process (MB)", *(f"{r['peak_rss_mb']['self']:.0f}" for r in runs)])
    memory = [[t["label"], str(t["rss_end_mb"]), str(t["peak_mb"])] for t in runs[0]["tasks"] if t.get("peak_mb")]
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
        f"+{result['extra_market']} = same call with one more market"
        + ("; one-line edit = `localize.relocalize` of the first market with one line's text changed"
           f" ({'; '.join(result['runs']['edit'].get('render_chunks', [])) or 'no chunk log'})." if "edit" in keys
           else "."),
        "- peak RSS is cumulative (the most so far in the process): "
        "the cold column is the run with every model loaded.",
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
        *(["## Memory, cold run (MB)", "", md_table(["task", "RSS when it ended", "peak so far"], memory), ""]
          if memory else []),
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
    ap.add_argument("--edit", action="store_true", help="also re-render the first market with one line edited")
    ap.add_argument("--real-size", action="store_true",
                    help="episode B (../shared/media/drama/episode_B.mp4), en-US + pt-BR, es-MX added, one edit; "
                         "results in pipeline-real.json/.md")
    args = ap.parse_args(argv)
    stem = "pipeline"
    if args.real_size:
        if not REAL_EPISODE.is_file():
            ap.error(f"{REAL_EPISODE} is absent (it ships with the development workspace)")
        args.episode, args.edit, stem = REAL_EPISODE, True, "pipeline-real"
        args.markets = args.markets or ["en-US", "pt-BR"]
        args.extra_market = "es-MX" if args.extra_market == "es-ES" else args.extra_market
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
            runs[key]["peak_rss_mb"] = peak_rss_mb()
            print(f"  {runs[key]['total_s']:.2f} s", flush=True)
        if args.edit:
            print(f"edit: relocalize {markets[0]} with one line edited ...", flush=True)
            runs["edit"] = run_edit(out / episode.stem / markets[0])
            runs["edit"]["peak_rss_mb"] = peak_rss_mb()
            print(f"  {runs['edit']['total_s']:.2f} s", flush=True)
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
            "cold_over_duration": runs["cold"]["total_s"] / machine["episode_duration_s"],
            "added_market_over_duration": (runs["add_market"]["total_s"] - runs["warm"]["total_s"])
            / machine["episode_duration_s"],
            "warm_over_duration": runs["warm"]["total_s"] / machine["episode_duration_s"],
            **({"edit_over_cold": runs["edit"]["total_s"] / runs["cold"]["total_s"]} if "edit" in runs else {}),
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    text, md = render_reports(result)
    print()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.results / f"{stem}.md").write_text(md)
    print(f"\nwrote {args.results / f'{stem}.json'} and {args.results / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
