"""Compare the pipeline benchmark of two revisions side by side, on this machine, in one run.

Runs bench/bench_pipeline.py of the base revision (a temporary git worktree, its package first on
PYTHONPATH) and of the working tree, alternating ``--rounds`` times so that a slow spell of the machine
hits both, and writes the medians side by side: each stage's seconds and the ratios bench_pipeline
prints (cold run / ffmpeg re-encode, warm / cold, adding a market / cold). Written for issue 16 (the
restructure must not slow the pipeline down beyond noise); any two revisions work.

    .venv/bin/python bench/bench_compare.py --base 1549de1 [--rounds 3] [--out bench/results/restructure]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATIOS = {"cold_over_ffmpeg": "cold run / ffmpeg re-encode", "warm_over_cold": "warm run / cold run",
          "add_market_over_cold": "run adding a market / cold run"}


def run_bench(tree: Path, results: Path, extra: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, str(tree / "bench" / "bench_pipeline.py"), "--results", str(results), *extra],
                   cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return json.loads((results / "pipeline.json").read_text(encoding="utf-8"))


def stage_seconds(result: dict) -> dict[str, float]:
    """Seconds per stage of the cold run (the tasks bench_pipeline timed), and the whole run."""
    cold = result["runs"]["cold"]
    found = {name: float(s) for name, s in cold["stages_s"].items()}
    for market, stages in cold["markets_s"].items():
        found.update({f"{market} {name}": float(s) for name, s in stages.items()
                      if name in ("translate", "dub", "mix", "render")})
    found["unattributed"] = float(cold["unattributed_s"])
    found["WHOLE RUN"] = float(cold["total_s"])
    found["ffmpeg re-encode (baseline)"] = statistics.median(result["baseline"]["runs_s"])
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the revision to compare against (a commit, tag or branch)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restructure")
    ap.add_argument("bench_args", nargs="*", help="passed to bench_pipeline.py (after --)")
    args = ap.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(base_tree), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            runs: dict[str, list[dict]] = {"base": [], "head": []}
            for i in range(args.rounds):
                for label, tree in (("base", base_tree), ("head", ROOT)):
                    runs[label].append(run_bench(tree, Path(tmp) / f"{label}-{i}", args.bench_args))
                    print(f"round {i + 1}: {label} cold {runs[label][-1]['runs']['cold']['total_s']:.2f} s",
                          flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    rows = []
    stages = [s for s in stage_seconds(runs["head"][0]) if s in stage_seconds(runs["base"][0])]
    for stage in stages:
        base = statistics.median(stage_seconds(r)[stage] for r in runs["base"])
        new = statistics.median(stage_seconds(r)[stage] for r in runs["head"])
        rows.append((stage, base, new))
    ratios = [(text, statistics.median(r["ratios"][key] for r in runs["base"]),
               statistics.median(r["ratios"][key] for r in runs["head"])) for key, text in RATIOS.items()]
    machine = runs["head"][0]["machine"]
    lines = [
        f"# Pipeline benchmark: {args.base} against {head}, side by side",
        "",
        f"- machine: {machine.get('cpu_model', '')}, nproc {machine.get('nproc', '')}, load at start "
        f"{machine.get('load_average_at_start', '')}; episode and markets as in "
        f"bench_pipeline.py's defaults ({' '.join(args.bench_args) or 'no extra arguments'})",
        f"- {args.rounds} rounds, base and head alternating; medians. Re-run: "
        f"`.venv/bin/python bench/bench_compare.py --base {args.base} --rounds {args.rounds}`",
        "",
        "## Ratios (each revision's own ffmpeg baseline, measured in the same round)",
        "",
        f"| ratio | {args.base} | {head} |",
        "|---|---:|---:|",
        *[f"| {text} | {b:.3f} | {h:.3f} |" for text, b, h in ratios],
        "",
        "## Cold run, seconds per stage",
        "",
        f"| stage | {args.base} | {head} | change |",
        "|---|---:|---:|---:|",
        *[f"| {stage} | {b:.2f} | {h:.2f} | {h - b:+.2f} |" for stage, b, h in rows],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"base": args.base, "head": head, "rounds": args.rounds,
                                                         "ratios": ratios, "stages": rows}, indent=1),
                                             encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
