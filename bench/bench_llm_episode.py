"""The main job's translation on a realistic Mandarin episode: chrF of en-US against a human translation.

On ../shared/media/drama/episode_B.mp4 (46.6 s, 3 speakers, burned-in Chinese subtitles) with its careful
human English translation (reference.en.srt):

1. the episode is understood as a run would (speech recognition fused with OCR of the subtitles, in a
   child process so its models do not count in this process's memory);
2. the en-US translation stage runs with the packaged LLM (and, when LOCALIZE_BENCH_GGUF names a larger
   GGUF, with that model too), from a fresh cache;
3. the translated lines are matched to the reference cues by time and scored with chrF (sacrebleu);
   the same model is also scored on the episode's true Chinese lines (truth.json), which separates
   translation quality from recognition errors.

Also counted: seconds per line, generated tokens per second, requests, malformed answers (0 expected:
decoding is constrained to the answer's JSON schema), lines within their length budget as first
translated and after shorter rewrites, and the peak RSS with the model loaded.

    .venv/bin/python bench/bench_llm_episode.py
    LOCALIZE_BENCH_GGUF=/models/qwen2.5-7b-instruct-q4_k_m.gguf .venv/bin/python bench/bench_llm_episode.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pysubs2
import sacrebleu

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
DRAMA = ROOT.parent / "shared" / "media" / "drama"
EPISODE = DRAMA / "episode_B.mp4"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def understand(work: Path) -> Path:
    """The fused script of the episode, written by a child process (Whisper and OCR stay out of this one)."""
    out = work / "script.json"
    code = ("import sys, localize; from localize.core import jsonio; "
            "s = localize.transcribe(sys.argv[1], cache_dir=sys.argv[2]); jsonio.save(s, sys.argv[3])")
    subprocess.run([sys.executable, "-c", code, str(EPISODE), str(work / "cache"), str(out)], check=True)
    return out


def truth_script():
    from localize.core.artifacts import Line, Script

    truth = json.loads((DRAMA / "truth.json").read_text(encoding="utf-8"))
    lines = tuple(Line(id=f"L{int(t['id']):03d}", start_ms=t["start_ms"], end_ms=t["end_ms"], text=t["text_zh"],
                       speaker=f"SPEAKER_{t['speaker']}") for t in truth["lines"])
    return Script(language="zh", duration_ms=46570, lines=lines, backend="truth", model="truth.json")


def score(script, translation, refs) -> tuple[float, list[dict]]:
    """chrF of the translation against the reference cues; each script line goes to the cue it overlaps most."""
    hyps: list[list[str]] = [[] for _ in refs]
    for line, target in zip(script.lines, translation.lines, strict=True):
        overlaps = [min(line.end_ms, r.end) - max(line.start_ms, r.start) for r in refs]
        best = max(range(len(refs)), key=lambda i: overlaps[i])
        if overlaps[best] > 0:
            hyps[best].append(target.text)
    joined = [" ".join(h) for h in hyps]
    chrf = sacrebleu.corpus_chrf(joined, [[r.plaintext for r in refs]]).score
    return chrf, [{"reference": r.plaintext, "hypothesis": h} for r, h in zip(refs, joined, strict=True)]


def run_model(label: str, model: str, script, truth, refs, work: Path) -> dict:
    from localize.core.cache import ArtifactStore
    from localize.core.markets import get_market
    from localize.core.options import RunOptions
    from localize.stages.translate import stage

    market = get_market("en-US")
    if model:
        import msgspec

        market = msgspec.structs.replace(market, llm=msgspec.structs.replace(market.llm, model=model))
    made = []
    real_factory = stage.backend_factory

    def factory(m):  # keep the adapter to read its usage counters
        create = real_factory(m)

        def wrapped(name):
            backend = create(name)
            made.append(backend)
            return backend
        return wrapped

    stage.backend_factory = factory
    try:
        results = {}
        for name, source in (("asr+ocr", script), ("truth", truth)):
            store = ArtifactStore(work / f"cache-{label}-{name}")
            t0 = time.perf_counter()
            tr = stage.translate_market(market, f"bench-{name}", source, store, RunOptions()).value
            seconds = time.perf_counter() - t0
            chrf, pairs = score(source, tr, refs)
            results[name] = {"chrf": round(chrf, 1), "seconds": round(seconds, 1), "lines": len(tr.lines),
                             "within_first": tr.within_budget_first, "within_final": tr.within_budget_final,
                             "routes": sorted({"+".join(t.route) for t in tr.lines}), "pairs": pairs}
            print(f"{label} on {name}: chrF {chrf:.1f}, {seconds:.1f} s, budget {tr.within_budget_first}/"
                  f"{len(tr.lines)} -> {tr.within_budget_final}/{len(tr.lines)}", flush=True)
    finally:
        stage.backend_factory = real_factory
    llms = [b for b in made if getattr(b, "usage", None) is not None]
    usage = {"requests": sum(b.usage.requests for b in llms), "lines": sum(b.usage.lines for b in llms),
             "completion_tokens": sum(b.usage.completion_tokens for b in llms),
             "prompt_tokens": sum(b.usage.prompt_tokens for b in llms),
             "llm_seconds": round(sum(b.usage.seconds for b in llms), 1),
             "malformed": sum(b.usage.malformed for b in llms)}
    usage["tokens_per_s"] = round(usage["completion_tokens"] / max(1e-9, usage["llm_seconds"]), 1)
    usage["s_per_line"] = round(usage["llm_seconds"] / max(1, usage["lines"]), 2)
    return {"model": label, "path": model or "packaged", **results, "usage": usage}


def main() -> int:
    if not EPISODE.is_file():
        print(f"{EPISODE} is absent: this benchmark needs ../shared/media/drama.")
        return 2
    from localize.core import jsonio
    from localize.core.artifacts import Script

    refs = [e for e in pysubs2.load(str(DRAMA / "reference.en.srt")) if e.plaintext.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        script = jsonio.load(Script, understand(work))
        understand_s = time.perf_counter() - t0
        truth = truth_script()
        runs = [run_model("Qwen2.5-Coder-1.5B-Instruct Q4_K_M (packaged)", "", script, truth, refs, work)]
        rss_packaged = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        bigger = os.environ.get("LOCALIZE_BENCH_GGUF", "")
        if bigger:
            runs.append(run_model(Path(bigger).name, bigger, script, truth, refs, work))
    data = {"machine": machine_info(), "episode": str(EPISODE.name), "understand_s": round(understand_s, 1),
            "script_lines": len(script.lines), "peak_rss_mb_packaged": round(rss_packaged), "runs": runs,
            "larger_gguf": bigger or None}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "llm_episode.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    md = ["# The main job's translation: episode B (Mandarin) into en-US", "",
          f"`../shared/media/drama/episode_B.mp4`: {len(refs)} reference lines (human English, reference.en.srt). "
          f"The script came from speech recognition fused with OCR ({len(script.lines)} lines, {understand_s:.0f} s "
          "in a child process); `truth` translates the episode's true Chinese lines instead.", "",
          "| model | script | chrF | s | within budget first -> after rewrites | route |",
          "|---|---|---:|---:|---|---|"]
    for r in runs:
        for name in ("asr+ocr", "truth"):
            x = r[name]
            md.append(f"| {r['model']} | {name} | {x['chrf']:.1f} | {x['seconds']:.0f} | {x['within_first']}/"
                      f"{x['lines']} -> {x['within_final']}/{x['lines']} | {', '.join(x['routes'])} |")
    md += ["", "| model | requests | lines | s/line | generated tokens/s | prompt tokens | malformed |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {r['model']} | {r['usage']['requests']} | {r['usage']['lines']} | {r['usage']['s_per_line']:.2f} | "
           f"{r['usage']['tokens_per_s']:.1f} | {r['usage']['prompt_tokens']} | {r['usage']['malformed']} |"
           for r in runs]
    md += ["", f"Peak RSS of this process with the packaged model loaded: {rss_packaged:.0f} MB.",
           "" if bigger else "No larger GGUF was available on this machine (set LOCALIZE_BENCH_GGUF to add one).",
           "", "Lines (asr+ocr script, packaged model):", ""]
    md += [f"- ref: {p['reference']}  \n  got: {p['hypothesis']}" for p in runs[0]["asr+ocr"]["pairs"]]
    md += ["", "Re-run: `.venv/bin/python bench/bench_llm_episode.py`"]
    (RESULTS / "llm_episode.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
