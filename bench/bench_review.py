"""Incremental re-render after a reviewer's edit, against the full run of the same episode.

For each episode, in a fresh temp folder and artifact cache, on this machine:

1. a cold ``localize.localize_episode(EP, markets=[MARKET], out=TMP)``, timed;
2. a reviewer edits one line (the middle one) through the review library
   (``localize.apps.review.act(..., "edit")``) and ``localize.apps.review.rerender`` re-runs the market with
   the store's overrides, timed; the stages that ran are the library's own progress tasks (a cached
   stage opens none).

Episodes: samples/episode.mp4 (10 s, Spanish -> en-US) and, when ../shared/media is present, the 50 s
English LJSpeech episode of bench_dub.py (-> pt-BR). Writes bench/results/review.json and review.md.

    .venv/bin/python bench/bench_review.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench_dub import MEDIA, build_long_episode  # bench/ is on sys.path when run as a script
from machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


class StageTimes:
    """A Progress that keeps each task's label and seconds from task() to done()."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []

    def task(self, label: str, total: int | None = None):
        start, stages = time.perf_counter(), self.stages
        name = f"{label} ({total} lines)" if total and "back-transcribe" in label else label

        class _Task:
            def advance(self, n: int = 1) -> None:
                pass

            def done(self) -> None:
                stages.append((name, round(time.perf_counter() - start, 2)))

        return _Task()


def measure(name: str, episode: Path, market: str, tmp: Path) -> dict:
    import localize
    from localize.core import jsonio
    from localize.core.artifacts import Report
    from localize.core.options import RunOptions
    from localize.apps.review import ReviewStore, act, rerender

    out = tmp / "out"
    full = StageTimes()
    t0 = time.perf_counter()
    result = localize.localize_episode(episode, markets=[market], out=out, options=RunOptions(cache_dir=tmp / "cache"),
                                       progress=full)
    full_s = time.perf_counter() - t0
    folder = Path(result.markets[0].directory)
    report = jsonio.load(Report, folder / "report.json")
    line = report.lines[len(report.lines) // 2]
    edited = line.target_text.rstrip(".!?") + ", really."
    with ReviewStore.for_out(out) as store:
        act(folder, store, line.id, "edit", text=edited, reviewer="bench")
        again = StageTimes()
        t0 = time.perf_counter()
        rerender(folder, store, progress=again)
        edit_s = time.perf_counter() - t0
    after = jsonio.load(Report, folder / "report.json")
    assert next(ln for ln in after.lines if ln.id == line.id).target_text == edited
    row = {"episode": name, "market": market, "lines": len(report.lines), "edited_line": line.id,
           "full_s": round(full_s, 1), "edit_rerender_s": round(edit_s, 1), "ratio": round(edit_s / full_s, 2),
           "full_stages": full.stages, "rerender_stages": again.stages}
    print(f"{name} -> {market}: full {full_s:.1f} s, re-render after editing {line.id} {edit_s:.1f} s "
          f"(ratio {edit_s / full_s:.2f}); stages re-run: {', '.join(f'{s} {t:.1f}s' for s, t in again.stages)}")
    return row


def main() -> int:
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-review-") as root:
        root = Path(root)
        episodes = [("sample (es, 10 s)", ROOT / "samples" / "episode.mp4", "en-US")]
        if MEDIA.is_dir():
            (root / "long").mkdir()
            episodes.append(("LJSpeech (en, 50 s)", build_long_episode(root / "long"), "pt-BR"))
        else:
            print(f"{MEDIA} is absent: only the sample episode is measured")
        for i, (name, path, market) in enumerate(episodes):
            (root / str(i)).mkdir()
            runs.append(measure(name, path, market, root / str(i)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    (RESULTS / "review.json").write_text(json.dumps({"machine": info, "runs": runs}, indent=2) + "\n", encoding="utf-8")
    md = ["# Review: re-render after one line edit vs the full run", "",
          f"{info['date']}, {info['cpu_model']}, {info['nproc']} cores, load at start "
          f"{info['load_average_at_start']}. `.venv/bin/python bench/bench_review.py`", "",
          "| episode | market | lines | full run s | edit + re-render s | ratio | stages the re-render ran |",
          "|---|---|---|---|---|---|---|"]
    for r in runs:
        stages = ", ".join(f"{s} {t:.1f}" for s, t in r["rerender_stages"])
        md.append(f"| {r['episode']} | {r['market']} | {r['lines']} | {r['full_s']} | {r['edit_rerender_s']} | "
                  f"{r['ratio']} | {stages} |")
    md += ["", "Full run stages (s): " + "; ".join(
        f"{r['episode']}: " + ", ".join(f"{s} {t:.1f}" for s, t in r["full_stages"]) for r in runs), ""]
    (RESULTS / "review.md").write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {RESULTS / 'review.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
