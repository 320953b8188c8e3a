"""Translation quality (chrF) of every route the planner can build here, the route table, and budget fit.

1. The route table: for each language pair, every route the offline backends can take (the packaged
   LLM direct, the LLM into English then Bergamot or Apertium, Bergamot/Apertium, pivots), scored
   with chrF (sacrebleu) on real references:
   - Chinese sources: bench/data/drama_refs.tsv (the 8 lines of ../shared/media/drama/episode_B.mp4
     and 3 Mandarin recordings, with English, Portuguese, Spanish and Thai references);
   - English and European sources: bench/data/parallel_en.tsv (12 English transcripts of real
     speech with pt/es/ca/zh references).
   The table is written to localize/stages/translate/routes.toml, which markets with translation = ["auto"]
   (all built-in ones) follow: the best-scoring route whose backends are installed.
   The LLM's seconds per line, tokens per second and malformed answers are counted per pair.
2. On the sample episode: per market, the share of lines within their length budget as first
   translated and after shorter rewrites.

    .venv/bin/python bench/bench_translate.py            # everything (about 15 min on 2 cores)
    .venv/bin/python bench/bench_translate.py --no-write  # do not rewrite routes.toml
    .venv/bin/python bench/bench_translate.py --routes-only  # skip the sample episode's budget table
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import sacrebleu

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "parallel_en.tsv"
DRAMA = ROOT / "bench" / "data" / "drama_refs.tsv"
RESULTS = ROOT / "bench" / "results"
ROUTES = ROOT / "localize" / "stages" / "translate" / "routes.toml"
sys.path.insert(0, str(ROOT))

# (source, target): candidate routes; "a>b" = a into English, then b from English
CANDIDATES = {
    ("zh", "en"): ["llamacpp"],
    ("zh", "pt"): ["llamacpp", "llamacpp>bergamot"],
    ("zh", "es"): ["llamacpp", "llamacpp>apertium"],
    ("zh", "th"): ["llamacpp"],
    ("en", "zh"): ["llamacpp"],
    ("en", "pt"): ["bergamot"],
    ("en", "es"): ["apertium", "llamacpp"],
    ("en", "ca"): ["apertium"],
    ("pt", "en"): ["bergamot"],
    ("es", "en"): ["apertium", "llamacpp"],
    ("ca", "en"): ["apertium"],
    ("es", "pt"): ["apertium>bergamot", "llamacpp>bergamot"],
    ("es", "ca"): ["apertium"],
}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _chrf(hyps: list[str], refs: list[str], target: str) -> float:
    # Chinese and Thai have no spaces between words: chrF's character n-grams fit them as they are.
    return sacrebleu.corpus_chrf(hyps, [refs]).score


class Legs:
    """Runs route legs, each (backend, source, target, texts) once; counts the LLM's work."""

    def __init__(self) -> None:
        from localize.stages.translate import TRANSLATORS

        self.registry = TRANSLATORS
        self.backends: dict = {}
        self.memo: dict = {}
        self.llm: dict[str, dict] = {}

    def run(self, name: str, texts: list[str], source: str, target: str) -> tuple[list[str], float]:
        key = (name, source, target, tuple(texts))
        if key not in self.memo:
            backend = self.backends.setdefault(name, self.registry.create(name))
            usage = getattr(backend, "usage", None)
            before = (usage.completion_tokens, usage.prompt_tokens, usage.malformed, usage.seconds) if usage else None
            t0 = time.perf_counter()
            out = backend.translate(texts, source, target)
            seconds = time.perf_counter() - t0
            if usage is not None and before is not None:
                gen = usage.completion_tokens - before[0]
                self.llm[f"{source}-{target}"] = {
                    "lines": len(texts), "seconds": round(seconds, 1), "s_per_line": round(seconds / len(texts), 2),
                    "completion_tokens": gen, "prompt_tokens": usage.prompt_tokens - before[1],
                    "tokens_per_s": round(gen / max(1e-9, usage.seconds - before[3]), 1),
                    "malformed": usage.malformed - before[2]}
            self.memo[key] = (out, seconds)
        return self.memo[key]


def route_table(legs: Legs) -> list[dict]:
    results = []
    for (src, tgt), vias in CANDIDATES.items():
        rows = _rows(DRAMA) if src == "zh" else _rows(DATA)
        texts, refs = [r[src] for r in rows], [r[tgt] for r in rows]
        for via in vias:
            names = via.split(">")
            stops = [src, *(["en"] if len(names) == 2 else []), tgt]
            hyps, seconds = texts, 0.0
            for name, a, b in zip(names, stops[:-1], stops[1:], strict=True):
                hyps, s = legs.run(name, hyps, a, b)
                seconds += s
            chrf = _chrf(hyps, refs, tgt)
            results.append({"pair": f"{src}-{tgt}", "via": via, "chrf": round(chrf, 1), "sentences": len(rows),
                            "seconds": round(seconds, 2), "references": (DRAMA if src == "zh" else DATA).name,
                            "examples": hyps[:3]})
            print(f"{src}->{tgt} via {via}: chrF {chrf:.1f} ({seconds:.1f} s)", flush=True)
    return results


def write_routes(results: list[dict]) -> None:
    head = [line for line in ROUTES.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    out = [*head, ""]
    for r in sorted(results, key=lambda r: (r["pair"], -r["chrf"])):
        out += ["[[route]]", f'pair = "{r["pair"]}"', f'via = "{r["via"]}"', f"chrf = {r['chrf']}",
                f'references = "bench/data/{r["references"]} ({r["sentences"]})"', ""]
    ROUTES.write_text("\n".join(out), encoding="utf-8")


def sample_budgets() -> list[dict]:
    import localize
    from localize.core.options import RunOptions

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
    return budget


def main() -> int:
    if "--render" in sys.argv:
        (RESULTS / "translate.md").write_text(render(json.loads((RESULTS / "translate.json").read_text())))
        return 0
    write = "--no-write" not in sys.argv
    legs = Legs()
    results = route_table(legs)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if write:
        write_routes(results)
        from localize.stages.translate import route as route_module

        route_module.measured_routes.cache_clear()
    budget = [] if "--routes-only" in sys.argv else sample_budgets()
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine_info(), "chrf": results, "llm": legs.llm, "peak_rss_mb": round(rss_mb),
            "budget": budget}
    (RESULTS / "translate.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    (RESULTS / "translate.md").write_text(render(data))
    return 0


def render(data: dict) -> str:
    """translate.md from translate.json (``--render`` rewrites it without measuring)."""
    from localize.stages.translate.route import MeasuredRoute, _ranked

    results, budget, rss_mb = data["chrf"], data["budget"], data["peak_rss_mb"]
    rows = _rows(DATA)
    by_pair: dict[str, list[MeasuredRoute]] = {}
    for r in results:
        by_pair.setdefault(r["pair"], []).append(MeasuredRoute(pair=r["pair"], via=r["via"], chrf=r["chrf"],
                                                               references=""))
    best = {pair: _ranked(routes)[0].via for pair, routes in by_pair.items()}
    md = ["# Translation: the route table, chrF and length budgets", "",
          "References: Chinese sources on `bench/data/drama_refs.tsv` (the 8 lines of episode B and 3 Mandarin "
          f"recordings); the others on `bench/data/parallel_en.tsv` ({len(rows)} English transcripts of real speech). "
          "All references are human (see bench/data/README.md). `a>b`: a into English, then b. The route in bold is "
          "what `auto` markets take when its backends are installed (localize/stages/translate/routes.toml): the best "
          "chrF, or among routes within 1 chrF of it the cheapest (no LLM, then an LLM leg into English that the "
          "markets share, then the market's own LLM pass).",
          "", "| pair | route | chrF | sentences | seconds |", "|---|---|---:|---:|---:|"]
    for r in results:
        mark = "**" if best[r["pair"]] == r["via"] else ""
        md.append(f"| {r['pair']} | {mark}{r['via']}{mark} | {mark}{r['chrf']:.1f}{mark} | {r['sentences']} | "
                  f"{r['seconds']:.1f} |")
    md += ["", "The packaged LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, llama.cpp, 2 threads), plain translation "
           "per pair (one request per line, the llamacpp default):", "",
           "| pair | lines | s/line | generated tokens per second of request (prompt included) | malformed answers |", "|---|---:|---:|---:|---:|"]
    md += [f"| {pair} | {u['lines']} | {u['s_per_line']:.2f} | {u['tokens_per_s']:.1f} | {u['malformed']} |"
           for pair, u in data["llm"].items()]
    md += ["", f"Peak RSS of the benchmark process with the LLM, Bergamot and Apertium loaded: {rss_mb:.0f} MB."]
    if budget:
        md += ["", "Sample episode (Spanish), lines within their length budget (slot x 15 characters/s):", "",
               "| market | route | first | after rewrites |", "|---|---|---:|---:|"]
        md += [f"| {b['market']} | {' + '.join(b['route'])} | {b['within_first']}/{b['lines']} | "
               f"{b['within_final']}/{b['lines']} |" for b in budget]
    md += ["", "Length budgets with the LLM's shorter rewrites on the Mandarin episode: "
           "[llm_episode.md](llm_episode.md).", "",
           "Re-run: `.venv/bin/python bench/bench_translate.py` (`--routes-only` skips the sample's budget table; "
           "`--render` rewrites this file from translate.json)"]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
