"""Casting on a real episode: a voice per character that fits the actor, distinct, kept across episodes.

On ../shared/media/drama/episode_B.mp4 (46.6 s, 8 Mandarin lines: two men, A ~113 Hz and B ~124 Hz, and a
woman, C ~193 Hz; truth.json), the pipeline's own stages run as `localize run` does (script, the market's
translation by its "auto" route, casting, dub), for each market:
- per character: the backend and voice cast, the actor's median F0 (YIN, on their cleanest lines) beside the
  dub's (all their dubbed clips), the pitch shift, and the casting flag (other class / shared);
- distinct: resemblyzer cosine between the characters' dubs (each character's clips concatenated);
- intelligibility: back-transcription WER of the dub (Whisper base, language forced, jiwer with case and
  punctuation removed, errors summed over the lines) against the text it says. Two texts (--text): the
  fixed drama lines of bench/bench_tts.py cycled over the episode's lines ("fixed", which leaves the
  translation out of it) and the pipeline's own translation by the market's "auto" route ("pipeline").
  The per-character measures are of the first --text.
- across episodes (--episodes, en-US): the episode cut at 20.3 s into two "episodes" (lines 1-4 and 5-8,
  every character speaking in both), run one after the other with one series cast: the same character's
  dub in the two halves (different lines) against the other characters'.

    .venv/bin/python bench/bench_casting.py [--market en-US ... | --all] [--text fixed --text pipeline]
        [--episodes] [--name casting]

--all: every built-in market that dubs (not zh-TW), fixed text only is the quick check
(`--all --text fixed`): the fixed lines per language are bench_tts's, bench_markets's and MORE_SENTENCES.
WER and CER both (CER is the measure for zh, ja, ko, th).

Results: bench/results/<name>.json and .md. The cache is kept in /tmp/bench-casting-cache (--cache).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DRAMA = ROOT.parent / "shared" / "media" / "drama"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tts import SENTENCES  # noqa: E402
from machine import machine_info  # noqa: E402

NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
MARKETS = ["en-US", "pt-BR", "es-ES", "es-MX"]
# Fixed lines for the languages neither bench_tts nor bench_markets writes (its drama lines, translated here;
# no digits). Not used to choose any voice.
MORE_SENTENCES = {
    "ca": [
        "Mai no et volia fer mal, però no em vas deixar cap opció.",
        "On eres ahir a la nit? La teva mare em va trucar dues vegades.",
        "Aquesta empresa és de la meva família, no teva.",
        "Si signes aquest contracte, ho perdràs tot.",
        "Si us plau, perdona'm. M'he equivocat amb tu des del principi.",
    ],
    "zh": [
        "我从来不想伤害你，但是你没有给我选择。",
        "你昨晚去哪里了？你妈妈给我打了两次电话。",
        "这家公司是我家的，不是你的。",
        "如果你签了这份合同，你会失去一切。",
        "请原谅我。我从一开始就误会你了。",
    ],
    "th": [
        "ฉันไม่เคยอยากทำร้ายคุณ แต่คุณไม่ให้ทางเลือกฉันเลย",
        "เมื่อคืนคุณอยู่ที่ไหน แม่ของคุณโทรหาฉันสองครั้ง",
        "บริษัทนี้เป็นของครอบครัวฉัน ไม่ใช่ของคุณ",
        "ถ้าคุณเซ็นสัญญานี้ คุณจะสูญเสียทุกอย่าง",
        "โปรดยกโทษให้ฉันด้วย ฉันเข้าใจคุณผิดมาตั้งแต่แรก",
    ],
    "ar": [
        "لم أرد أبدا أن أؤذيك، لكنك لم تترك لي خيارا.",
        "أين كنت الليلة الماضية؟ اتصلت بي أمك مرتين.",
        "هذه الشركة ملك لعائلتي، وليست لك.",
        "إذا وقعت هذا العقد، فستخسر كل شيء.",
        "أرجوك سامحني. لقد أسأت فهمك منذ البداية.",
    ],
}
CER_LANGUAGES = {"zh", "ja", "ko", "th"}  # no spaces between words: CER is the measure


def sentences(language: str) -> list[str]:
    from bench_markets import SENTENCES as MARKET_SENTENCES

    return {**MORE_SENTENCES, **MARKET_SENTENCES, **SENTENCES}[language]


def dub_markets() -> list[str]:
    """Every built-in market that dubs (zh-TW keeps the original voices), ja-JP and fr-FR last."""
    from localize.core.markets import load_markets

    markets = load_markets()
    tags = [m.tag for m in (markets.values() if isinstance(markets, dict) else markets) if m.dub]
    return sorted(tags, key=lambda t: t in ("ja-JP", "fr-FR"))


def _encoder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def embed(encoder, samples: np.ndarray, rate: int) -> np.ndarray:
    from resemblyzer import preprocess_wav

    return encoder.embed_utterance(preprocess_wav(samples, source_sr=rate))


def character_audio(dub_dir: Path, track, script) -> dict[str, np.ndarray]:
    """Character -> their dubbed clips concatenated (48 kHz)."""
    speaker = {ln.id: ln.speaker for ln in script.lines}
    out: dict[str, list[np.ndarray]] = {}
    for ln in track.lines:
        samples, _ = sf.read(dub_dir / ln.clip, dtype="float32", always_2d=False)
        out.setdefault(speaker[ln.id], []).append(samples)
    return {s: np.concatenate(c) for s, c in out.items()}


def dub_episode(path: Path, tag: str, options, fixed: bool):
    """(script, translation, casting, dub) of one market, through the pipeline's stages."""
    from localize.core.artifacts import TargetLine, Translation
    from localize.core.cache import ArtifactStore
    from localize.core.markets import get_market, load_markets
    from localize.core.progress import NullProgress
    from localize.run import _shared
    from localize.stages.translate.stage import translate_market
    from localize.stages.voice.stage import cast_market_voices, choose_voice, dub_market

    store = ArtifactStore(options.cache_root())
    episode = _shared(path, options, store, NullProgress())
    market = get_market(tag, load_markets())
    if fixed:  # no translation stage: bench_tts's lines, cycled over the episode's lines
        lines = sentences(market.language)
        script = episode.script.value
        translation = Translation(source_language=script.language, target_language=market.language, lines=tuple(
            TargetLine(id=ln.id, source_text=ln.text, text=lines[i % len(lines)], route=("fixed",))
            for i, ln in enumerate(script.lines)))
        tr_key = f"fixed:{episode.script.key}:{market.language}"
    else:
        machine = translate_market(market, episode.script.key, episode.script.value, store, options)
        translation, tr_key = machine.value, machine.key
    voice = choose_voice(market, None)
    cast = cast_market_voices(market, voice, episode.script.value, tr_key, translation, episode.audio, options,
                              store)
    dub = dub_market(market, voice, tr_key, episode.script.value, translation, store, NullProgress(),
                     episode.audio, cast)
    return episode.script.value, translation, cast, dub


def wer(dub, translation, language: str) -> tuple[float, float, list[dict]]:
    """(WER, CER, lines) of the dub heard back against the text it says."""
    from localize.stages.voice import backcheck

    asr = backcheck.recognizer()
    texts = {t.id: t.text for t in translation.lines}
    refs, hyps, rows = [], [], []
    for ln in dub.value.lines:
        heard = asr.transcribe_clip(dub.path / ln.clip, language, max_tokens=backcheck.MAX_TOKENS)
        refs.append(NORM(texts[ln.id]))
        hyps.append(NORM(heard) or "<empty>")
        rows.append({"id": ln.id, "text": texts[ln.id], "heard": heard, "voice": ln.voice})
    chars = [r.replace(" ", "") for r in refs], [h.replace(" ", "") or "<empty>" for h in hyps]
    return round(float(jiwer.wer(refs, hyps)), 4), round(float(jiwer.cer(*chars)), 4), rows


def measure_market(tag: str, options, texts: list[str], encoder) -> dict:
    from localize.stages.voice.casting import kind_of, median_f0

    path = DRAMA / "episode_B.mp4"
    script, translation, cast, dub = dub_episode(path, tag, options, fixed=texts[0] == "fixed")
    language = dub.value.language
    audio = character_audio(dub.path, dub.value, script)
    pitch = {}
    for ln in dub.value.lines:
        pitch.setdefault(next(s.speaker for s in script.lines if s.id == ln.id), ln.pitch)
    chars = {}
    embeddings = {s: embed(encoder, a, 48000) for s, a in audio.items()}
    for spk, cv in sorted(cast.items()):
        dub_f0 = round(median_f0(audio[spk], 48000), 1) if spk in audio else 0.0
        chars[spk] = {"backend": cv.backend, "voice": cv.voice, "flag": cv.flag, "actor_f0_hz": cv.f0_hz,
                      "dub_f0_hz": dub_f0, "actor_class": kind_of(cv.f0_hz), "dub_class": kind_of(dub_f0),
                      "class_match": bool(kind_of(cv.f0_hz)) and kind_of(cv.f0_hz) == kind_of(dub_f0),
                      "pitch_shift": pitch.get(spk, 1.0), "audition_similarity": cv.similarity}
    between = {f"{a}~{b}": round(float(embeddings[a] @ embeddings[b]), 3)
               for a, b in itertools.combinations(sorted(embeddings), 2)}
    result = {"market": tag, "language": language, "characters": chars, "between_characters": between}
    result[f"wer_{texts[0]}"], result[f"cer_{texts[0]}"], result[f"lines_{texts[0]}"] = wer(dub, translation,
                                                                                               language)
    for text in texts[1:]:
        _, other_tr, _, other_dub = dub_episode(path, tag, options, fixed=text == "fixed")
        result[f"wer_{text}"], result[f"cer_{text}"], result[f"lines_{text}"] = wer(other_dub, other_tr, language)
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("lines")}, ensure_ascii=False), flush=True)
    return result


def cut(src: Path, dst: Path, start_s: float, end_s: float | None) -> Path:
    if not dst.exists():
        argv = ["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-i", str(src)]
        argv += ["-t", str(end_s - start_s)] if end_s else []
        subprocess.run([*argv, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac",
                        str(dst)], check=True)
    return dst


def across_episodes(options, work: Path, encoder, tag: str = "en-US") -> dict:
    """The episode's halves as two episodes of one series (one cast): the same character's dub in both."""
    halves = [cut(DRAMA / "episode_B.mp4", work / "B1.mp4", 0.0, 20.3),
              cut(DRAMA / "episode_B.mp4", work / "B2.mp4", 20.3, None)]
    cast_file = work / "series" / "cast.json"
    if cast_file.exists():
        cast_file.unlink()
    opts = replace(options, cast_file=cast_file, series="bench")
    audio, voices = [], []
    for half in halves:
        script, _, cast, dub = dub_episode(half, tag, opts, fixed=False)
        audio.append(character_audio(dub.path, dub.value, script))
        voices.append({s: f"{c.backend}:{c.voice}" for s, c in cast.items()})
    emb = [{s: embed(encoder, a, 48000) for s, a in half.items()} for half in audio]
    same = {s: round(float(emb[0][s] @ emb[1][s]), 3) for s in sorted(set(emb[0]) & set(emb[1]))}
    other = {f"{a}~{b}": round(float(emb[0][a] @ emb[1][b]), 3)
             for a in sorted(emb[0]) for b in sorted(emb[1]) if a != b}
    out = {"market": tag, "voices": voices, "same_character": same, "other_characters": other}
    print(json.dumps(out), flush=True)
    return out


def markdown(data: dict) -> str:
    lines = [f"# Casting on episode B ({data['name']})", "", "Produced by `bench/bench_casting.py`; see its "
             "docstring for the method. Actor F0: the character's cleanest original lines; dub F0: all their "
             "dubbed clips (after the pitch shift); class: f from 165 Hz (casting.FEMALE_HZ), else m; match: the "
             "dub's class is the actor's; flag: casting's (other class = a voice of the other class shifted "
             "toward the actor, shared = no free voice). Similarity: resemblyzer cosine. Truth: SPEAKER_00/01 "
             "are men, SPEAKER_02 a woman.", "",
             "| market | character | backend:voice | flag | actor F0 Hz (class) | dub F0 Hz (class) | match | shift |",
             "|---|---|---|---|---|---|---|---|"]
    for m in data["markets"]:
        if "error" in m:
            lines.append(f"| {m['market']} | - | failed: {m['error']} | | | | | |")
        for spk, c in m.get("characters", {}).items():
            lines.append(f"| {m['market']} | {spk} | `{c['backend']}:{c['voice']}` | {c['flag'] or '-'} | "
                         f"{c['actor_f0_hz']:.0f} ({c.get('actor_class', '?')}) | {c['dub_f0_hz']:.0f} "
                         f"({c.get('dub_class', '?')}) | {'yes' if c.get('class_match') else 'NO'} | "
                         f"{c['pitch_shift']:.3f} |")
    lines += ["", "| market | WER (pipeline text) | WER (fixed text) | CER (fixed text) | classes match | "
              "max similarity between characters |", "|---|---|---|---|---|---|"]
    for m in data["markets"]:
        if "error" in m:
            continue
        fixed = f"{m['wer_fixed']:.1%}" if "wer_fixed" in m else "-"
        cer = f"{m['cer_fixed']:.1%}" if "cer_fixed" in m else "-"
        pipeline = f"{m['wer_pipeline']:.1%}" if "wer_pipeline" in m else "-"
        chars = m["characters"].values()
        match = f"{sum(bool(c.get('class_match')) for c in chars)}/{len(chars)}"
        top = max(m["between_characters"].values(), default=0.0)
        lines.append(f"| {m['market']} | {pipeline} | {fixed} | {cer} | {match} | {top:.3f} |")
    if data.get("episodes"):
        e = data["episodes"]
        lines += ["", f"Across episodes ({e['market']}, the two halves of episode B with one series cast): "
                  f"same character {e['same_character']}; other characters {e['other_characters']}; "
                  f"voices {e['voices']}."]
    lines += ["", "## Machine", "", "```json", json.dumps(data["machine"], indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--market", action="append", help=f"default: {' '.join(MARKETS)}")
    parser.add_argument("--all", action="store_true", help="every built-in market that dubs (ja-JP, fr-FR last)")
    parser.add_argument("--text", action="append", choices=["fixed", "pipeline"],
                        help="what the dub says: bench_tts's fixed lines, the pipeline's translation (default both; "
                             "the first also gives the per-character measures)")
    parser.add_argument("--episodes", action="store_true", help="also the same character across two episodes")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-casting-cache"))
    parser.add_argument("--name", default="casting")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (DRAMA / "episode_B.mp4").is_file():
        sys.exit(f"{DRAMA / 'episode_B.mp4'} is missing")
    from localize import RunOptions

    args.cache.mkdir(parents=True, exist_ok=True)
    options = RunOptions(cache_dir=args.cache)
    encoder = _encoder()
    texts = args.text or ["fixed", "pipeline"]
    tags = dub_markets() if args.all else (args.market or MARKETS)
    data: dict = {"name": args.name, "markets": [],
                  "machine": machine_info(asr="faster-whisper base (packaged), language forced")}
    RESULTS.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
        (RESULTS / f"{args.name}.md").write_text(markdown(data), encoding="utf-8")

    for tag in tags:  # written after each market: a long --all run keeps what it measured
        try:
            data["markets"].append(measure_market(tag, options, texts, encoder))
        except Exception as exc:  # one market's failure is a result, not the end of the run
            data["markets"].append({"market": tag, "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(f"{tag}: {data['markets'][-1]['error']}", flush=True)
        write()
    if args.episodes:
        data["episodes"] = across_episodes(options, args.cache, encoder)
        write()
    print(f"wrote {RESULTS / (args.name + '.md')}")


if __name__ == "__main__":
    main()
