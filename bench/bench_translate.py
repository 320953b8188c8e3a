"""Translation quality (chrF) of every backend that runs here, and length-budget fit.

1. chrF (sacrebleu) on bench/data/parallel_en.tsv: the English human transcripts of the shared
   speech with reference translations (see bench/data/README.md), for each route the offline
   backends can take, in both directions.
2. On the sample episode: per market, the share of lines within their length budget as first
   translated and after shorter rewrites (the offline machine backends cannot rewrite, so both
   numbers are the same for them; the rewrite loop needs an LLM adapter).

    .venv/bin/python bench/bench_translate.py
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import sacrebleu

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "parallel_en.tsv"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

# (source, target, backends in preference order): each becomes one route
PAIRS = [
    ("en", "pt", ("bergamot",)), ("en", "es", ("apertium",)), ("en", "ca", ("apertium",)),
    ("pt", "en", ("bergamot",)), ("es", "en", ("apertium",)), ("ca", "en", ("apertium",)),
    ("es", "pt", ("apertium", "bergamot")), ("es", "ca", ("apertium",)),
]


def main() -> int:
    from localize.artifacts import Line
    from localize.translate.route import plan_route, translate_lines

    with open(DATA, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    results = []
    for src, tgt, prefs in PAIRS:
        route = plan_route(src, tgt, prefs)
        lines = [Line(id=f"L{i:03d}", start_ms=0, end_ms=1, text=r[src]) for i, r in enumerate(rows)]
        t0 = time.perf_counter()
        out = translate_lines(lines, route)
        seconds = time.perf_counter() - t0
        hyps = [t.text for t in out]
        chrf = sacrebleu.corpus_chrf(hyps, [[r[tgt] for r in rows]]).score
        results.append({"pair": f"{src}-{tgt}", "route": [leg.label for leg in route], "chrf": round(chrf, 1),
                        "sentences": len(rows), "seconds": round(seconds, 2), "examples": hyps[:3]})
        print(f"{src}->{tgt} via {' + '.join(leg.label for leg in route)}: chrF {chrf:.1f} ({seconds:.2f} s)")

    import localize
    from localize.options import RunOptions

    budget = []
    with tempfile.TemporaryDirectory() as tmp:
        res = localize.localize_episode(ROOT / "samples" / "episode.mp4", markets=["en-US", "pt-BR", "ca-ES"],
                                        out=tmp, options=RunOptions(cache_dir=Path(tmp) / "c"))
        for m in res.markets:
            n = len(m.report.lines)
            budget.append({"market": m.market, "lines": n, "within_first": m.report.within_budget_first,
                           "within_final": m.report.within_budget_final,
                           "route": list(m.report.lines[0].route) if m.report.lines else []})
            print(f"{m.market}: {m.report.within_budget_first}/{n} lines within budget "
                  f"(after rewrites {m.report.within_budget_final}/{n})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine_info(), "chrf": results, "budget": budget}
    (RESULTS / "translate.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    md = ["# Translation: chrF and length budgets", "",
          f"Parallel set: `bench/data/parallel_en.tsv`, {len(rows)} sentences (English human transcripts of the "
          "shared speech, with reference translations written for this project; see bench/data/README.md).", "",
          "| pair | route | chrF | seconds |", "|---|---|---:|---:|"]
    md += [f"| {r['pair']} | {' + '.join(r['route'])} | {r['chrf']:.1f} | {r['seconds']:.2f} |" for r in results]
    md += ["", "Sample episode (Spanish), lines within their length budget (slot x 15 characters/s):", "",
           "| market | route | first | after rewrites |", "|---|---|---:|---:|"]
    md += [f"| {b['market']} | {' + '.join(b['route'])} | {b['within_first']}/{b['lines']} | "
           f"{b['within_final']}/{b['lines']} |" for b in budget]
    md += ["", "Machine backends cannot rewrite shorter; the rewrite loop runs with an LLM adapter (tested "
           "against a local OpenAI-compatible server in tests/integration/test_adapt_pipeline.py).", "",
           "Re-run: `.venv/bin/python bench/bench_translate.py`"]
    (RESULTS / "translate.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
