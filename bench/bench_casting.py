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

    .venv/bin/python bench/bench_casting.py [--market en-US ...] [--text fixed --text pipeline] [--episodes]
        [--name casting]

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
        sentences = SENTENCES[market.language]
        script = episode.script.value
        translation = Translation(source_language=script.language, target_language=market.language, lines=tuple(
            TargetLine(id=ln.id, source_text=ln.text, text=sentences[i % len(sentences)], route=("fixed",))
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


def wer(dub, translation, language: str) -> tuple[float, list[dict]]:
    from localize.stages.voice import backcheck

    asr = backcheck.recognizer()
    texts = {t.id: t.text for t in translation.lines}
    refs, hyps, rows = [], [], []
    for ln in dub.value.lines:
        heard = asr.transcribe_clip(dub.path / ln.clip, language, max_tokens=backcheck.MAX_TOKENS)
        refs.append(NORM(texts[ln.id]))
        hyps.append(NORM(heard) or "<empty>")
        rows.append({"id": ln.id, "text": texts[ln.id], "heard": heard, "voice": ln.voice})
    return round(float(jiwer.wer(refs, hyps)), 4), rows


def measure_market(tag: str, options, texts: list[str], encoder) -> dict:
    from localize.stages.voice.casting import median_f0

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
        chars[spk] = {"backend": cv.backend, "voice": cv.voice, "flag": cv.flag, "actor_f0_hz": cv.f0_hz,
                      "dub_f0_hz": round(median_f0(audio[spk], 48000), 1) if spk in audio else 0.0,
                      "pitch_shift": pitch.get(spk, 1.0), "audition_similarity": cv.similarity}
    between = {f"{a}~{b}": round(float(embeddings[a] @ embeddings[b]), 3)
               for a, b in itertools.combinations(sorted(embeddings), 2)}
    result = {"market": tag, "language": language, "characters": chars, "between_characters": between}
    result[f"wer_{texts[0]}"], result[f"lines_{texts[0]}"] = wer(dub, translation, language)
    for text in texts[1:]:
        _, other_tr, _, other_dub = dub_episode(path, tag, options, fixed=text == "fixed")
        result[f"wer_{text}"], result[f"lines_{text}"] = wer(other_dub, other_tr, language)
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
             "dubbed clips (after the pitch shift). Similarity: resemblyzer cosine.", "",
             "| market | character | backend:voice | flag | actor F0 Hz | dub F0 Hz | shift |",
             "|---|---|---|---|---|---|---|"]
    for m in data["markets"]:
        for spk, c in m["characters"].items():
            lines.append(f"| {m['market']} | {spk} | `{c['backend']}:{c['voice']}` | {c['flag'] or '-'} | "
                         f"{c['actor_f0_hz']:.0f} | {c['dub_f0_hz']:.0f} | {c['pitch_shift']:.3f} |")
    lines += ["", "| market | WER (pipeline text) | WER (fixed text) | max similarity between characters |",
              "|---|---|---|---|"]
    for m in data["markets"]:
        fixed = f"{m['wer_fixed']:.1%}" if "wer_fixed" in m else "-"
        pipeline = f"{m['wer_pipeline']:.1%}" if "wer_pipeline" in m else "-"
        top = max(m["between_characters"].values(), default=0.0)
        lines.append(f"| {m['market']} | {pipeline} | {fixed} | {top:.3f} |")
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
    data: dict = {"name": args.name, "markets": [measure_market(tag, options, texts, encoder)
                                                 for tag in (args.market or MARKETS)]}
    if args.episodes:
        data["episodes"] = across_episodes(options, args.cache, encoder)
    data["machine"] = machine_info(asr="faster-whisper base (packaged), language forced")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / f"{args.name}.md").write_text(markdown(data), encoding="utf-8")
    print(f"wrote {RESULTS / (args.name + '.md')}")


if __name__ == "__main__":
    main()
