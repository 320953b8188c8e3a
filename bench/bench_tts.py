"""Dubbing voice intelligibility: back-transcription error rate per TTS backend and language.

Each backend speaks the same short drama lines (SENTENCES, written for this benchmark: no digits,
since Whisper writes numbers as digits); the packaged Whisper base model (faster-whisper, language
forced) transcribes each clip after ffmpeg resamples it to 16 kHz mono, as the understanding stage
does; the error rate is WER (jiwer, case and punctuation removed) over all the lines of a language,
errors summed, and CER for Hindi (Whisper base writes Hindi words with variable spacing) and Japanese. Lower is
better, and it bounds intelligibility only as well as Whisper base hears it: Whisper base's own
error on clean human speech in these languages is not zero. Real-time factor = synthesis wall time
/ audio duration, model loaded (first call excluded).

Backends: kokoro (every language it offers, each bundled style with --all-styles), espeak-ng
(same languages), piper (English only: the one packaged voice). --all-styles also measures Kokoro's
blends that casting offers (kokoro.BLENDS: the one male style with a little of a female one). Each voice's median F0 (YIN, over all
its lines) is recorded too: casting reads a voice's pitch class from it.

--voices writes the measurement the voice stage reads, localize/stages/voice/voices.toml: per language,
each measured voice's error and F0 ("auto" markets put the backend with the lowest error first,
espeak-ng last on a tie; casting picks among a backend's voices of the actor's pitch class).

    .venv/bin/python bench/bench_tts.py [--all-styles] [--backend kokoro --backend espeak] [--voices]
        [--language pt --voice kokoro:pt-br/jm_kumo --voice espeak:pt-br]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info

NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
SENTENCES = {
    "en": [
        "I never wanted to hurt you, but you left me no choice.",
        "Where were you last night? Your mother called me twice.",
        "This company belongs to my family, not to you.",
        "If you sign this contract, you will lose everything.",
        "Please forgive me. I was wrong about you from the beginning.",
    ],
    "es": [
        "Nunca quise hacerte daño, pero no me dejaste otra opción.",
        "¿Dónde estabas anoche? Tu madre me llamó dos veces.",
        "Esta empresa pertenece a mi familia, no a ti.",
        "Si firmas este contrato, lo perderás todo.",
        "Perdóname. Me equivoqué contigo desde el principio.",
    ],
    "pt": [
        "Eu nunca quis te machucar, mas você não me deixou escolha.",
        "Onde você estava ontem à noite? Sua mãe me ligou duas vezes.",
        "Esta empresa pertence à minha família, não a você.",
        "Se você assinar este contrato, vai perder tudo.",
        "Me perdoe. Eu estava errado sobre você desde o começo.",
    ],
    "fr": [
        "Je n'ai jamais voulu te faire de mal, mais tu ne m'as pas laissé le choix.",
        "Où étais-tu hier soir ? Ta mère m'a appelé deux fois.",
        "Cette entreprise appartient à ma famille, pas à toi.",
        "Si tu signes ce contrat, tu vas tout perdre.",
        "Pardonne-moi. Je me suis trompé sur toi depuis le début.",
    ],
    "it": [
        "Non ho mai voluto farti del male, ma non mi hai lasciato scelta.",
        "Dove eri ieri sera? Tua madre mi ha chiamato due volte.",
        "Questa azienda appartiene alla mia famiglia, non a te.",
        "Se firmi questo contratto, perderai tutto.",
        "Perdonami. Mi sono sbagliato su di te fin dall'inizio.",
    ],
    "ja": [  # bench_markets.py's Japanese lines
        "あなたを傷つけるつもりはなかった。でも、他に選択肢がなかったの。",
        "昨夜はどこにいたの？お母さんから二回も電話があったよ。",
        "この会社は私の家族のものだ。あなたのものじゃない。",
        "この契約書にサインしたら、すべてを失うことになる。",
        "どうか許してください。最初からあなたを誤解していました。",
    ],
    "hi": [
        "मैं तुम्हें कभी दुख नहीं देना चाहता था।",
        "तुम कल रात कहाँ थे? तुम्हारी माँ ने मुझे दो बार फोन किया।",
        "यह कंपनी मेरे परिवार की है, तुम्हारी नहीं।",
        "मुझे माफ कर दो। मैं गलत था।",
    ],
}
CER_LANGUAGES = {"hi", "ja"}  # Japanese is written without spaces


def duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def to_16k(src: Path, dst: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-ac", "1", "-ar", "16000",
                    "-c:a", "pcm_s16le", str(dst)], check=True)
    return dst


def voices(backend: str, language: str, all_styles: bool) -> list[str]:
    from localize.stages.voice.tts import SYNTHESIZERS
    from localize.stages.voice.tts.kokoro import BLENDS, STYLES

    synth = SYNTHESIZERS.create(backend)
    # espeak-ng names English and French by region only; pt-BR is the market (its "pt" is European).
    voice = {"en": "en-us", "fr": "fr-fr", "pt": "pt-br", "ja": "ja"}.get(language) if backend == "espeak" else None
    voice = voice or synth.default_voice(language)
    if voice is None:
        return []
    if backend == "kokoro" and all_styles:
        lang = voice.split("/")[0]
        return [f"{lang}/{s}" for s in (*STYLES, *BLENDS)]
    return [voice]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", help="default: kokoro, espeak, piper")
    parser.add_argument("--all-styles", action="store_true", help="kokoro: every bundled style")
    parser.add_argument("--language", action="append", help="default: every language of SENTENCES")
    parser.add_argument("--name", default="tts")
    parser.add_argument("--voices", action="store_true", help="write localize/stages/voice/voices.toml")
    parser.add_argument("--voice", action="append", help="only these, as backend:voice (e.g. kokoro:pt-br/jm_kumo)")
    args = parser.parse_args()
    backends = args.backend or ["kokoro", "espeak", "piper"]

    from localize.stages.script.asr import AsrOptions
    from localize.stages.script.asr.faster_whisper import COMPUTE_TYPE, FasterWhisperRecognizer
    from localize.stages.voice.casting import median_f0
    from localize.stages.voice.tts import SYNTHESIZERS

    tmp = Path(tempfile.mkdtemp(prefix="bench-tts-"))
    recognizers = {lang: FasterWhisperRecognizer(AsrOptions(language=lang)) for lang in SENTENCES}
    # Whisper base writes much Hindi speech in Urdu script even with the language forced, so the
    # Hindi CER measures the script as much as the voice: read it as a floor, not a ranking.
    rows = []
    for backend in backends:
        synth = SYNTHESIZERS.create(backend)
        for lang, sentences in SENTENCES.items():
            if args.language and lang not in args.language:
                continue
            chosen = voices(backend, lang, args.all_styles)
            if args.voice:
                chosen = [v.partition(":")[2] for v in args.voice if v.partition(":")[0] == backend
                          and (backend != "kokoro" or v.partition(":")[2].split("/")[0] in chosen[0])]
            for voice in chosen:
                synth.check(voice)
                synth.synthesize("Warm up.", voice, tmp / "warm.wav")
                refs, hyps, synth_s, audio_s, clips = [], [], 0.0, 0.0, []
                for i, text in enumerate(sentences):
                    wav = tmp / f"{backend}-{lang}-{i}.wav"
                    t0 = time.perf_counter()
                    synth.synthesize(text, voice, wav)
                    synth_s += time.perf_counter() - t0
                    audio_s += duration_s(wav)
                    raw = recognizers[lang].recognize(to_16k(wav, tmp / "asr.wav"))
                    clips.append(sf.read(tmp / "asr.wav", dtype="float32")[0])
                    hyp = "".join(w.text for seg in raw.segments for w in seg).strip()
                    refs.append(NORM(text))
                    hyps.append(NORM(hyp) or "<empty>")
                metric = "cer" if lang in CER_LANGUAGES else "wer"
                error = (jiwer.cer if metric == "cer" else jiwer.wer)(refs, hyps)
                row = {"backend": backend, "voice": voice, "language": lang, "metric": metric,
                       "error": round(error, 4), "rtf": round(synth_s / audio_s, 3), "audio_s": round(audio_s, 1),
                       "hypotheses": hyps, "f0_hz": round(median_f0(np.concatenate(clips), 16000), 1)}
                rows.append(row)
                print(f"{backend:7} {voice:22} {lang}  {metric.upper()} {error:6.1%}  RTF {row['rtf']:.3f}  "
                      f"F0 {row['f0_hz']:.0f} Hz", flush=True)

    info = machine_info(asr=f"faster-whisper base (packaged), {COMPUTE_TYPE}, language forced",
                        backends=backends, model_versions={r["voice"]: SYNTHESIZERS.create(r["backend"]).model_version(r["voice"])
                                                           for r in rows})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2, ensure_ascii=False,
                                                         sort_keys=True) + "\n", encoding="utf-8")
    lines = [f"# TTS back-transcription ({args.name})", "",
             ("Produced by `bench/bench_tts.py`; see its docstring for the method. Error = WER (CER for hi) "
              "of Whisper base on the synthesized lines; lower is better."), "",
             "| backend | voice | language | metric | error | F0 Hz | RTF | audio s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | `{r['voice']}` | {r['language']} | {r['metric'].upper()} | "
                     f"{r['error']:.1%} | {r['f0_hz']:.0f} | {r['rtf']:.3f} | {r['audio_s']} |")
    lines += ["", "## Machine", "", "```json", json.dumps(info, indent=2, sort_keys=True), "```", ""]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS / (args.name + '.md')}")
    if args.voices:
        write_voices(rows, info["date"], args.name)


VOICES = ROOT / "localize" / "stages" / "voice" / "voices.toml"


def write_voices(rows: list[dict], date: str, name: str) -> None:
    """localize/stages/voice/voices.toml: each measured voice's error and F0, per language."""
    if VOICES.is_file():  # rows of other runs (languages, backends) stay unless measured again
        import tomllib

        fresh = {(r["language"], f"{r['backend']}:{r['voice']}") for r in rows}
        for lang, voices in tomllib.loads(VOICES.read_text(encoding="utf-8")).items():
            rows = rows + [{"language": lang, "backend": key.partition(":")[0], "voice": key.partition(":")[2],
                            **row} for key, row in voices.items() if (lang, key) not in fresh]
    out = [f"# Written by bench/bench_tts.py --voices (last on {date}: bench/results/{name}.md): Whisper base",
           "# back-transcription error (WER; CER for hi) of each voice on the bench's fixed drama lines, and",
           "# its median F0 (YIN). A market's tts = [\"auto\"] puts the backend with the lowest error for its",
           "# language first (espeak-ng last on a tie); casting picks among a backend's voices of the actor's",
           "# pitch class (female from 165 Hz). Re-run the bench to update; do not edit by hand.", ""]
    for lang in sorted({r["language"] for r in rows}):
        out.append(f"[{lang}]")
        for r in sorted((r for r in rows if r["language"] == lang), key=lambda r: (r["backend"], r["voice"])):
            out.append(f'"{r["backend"]}:{r["voice"]}" = {{ error = {r["error"]}, f0_hz = {r["f0_hz"]} }}')
        out.append("")
    VOICES.write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {VOICES}")


if __name__ == "__main__":
    main()
