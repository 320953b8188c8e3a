"""Markets: what a render for one region and language looks like.

Built-in markets live in ``builtin.toml`` keyed by BCP 47 tag; users add or
override markets with their own TOML file of the same shape
(``localize run --markets-file my.toml``). Files are validated strictly:
an unknown key or a wrong type is an error naming the file and the field.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from localize.core.errors import ConfigError, UnknownNameError
from localize.core.jsonio import read_user_text


class LoudnessTarget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    integrated_lufs: float = -14.0
    true_peak_dbtp: float = -1.0
    lra: float = 11.0


class SubtitleStyle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    font: str = "DejaVu Sans"
    font_size: float = 14  # on ASS's classic 288-line canvas; scaled to the video's height
    primary_colour: str = "#FFFFFF"
    outline_colour: str = "#000000"
    outline: float = 2.0
    shadow: float = 0.0
    bold: bool = True
    margin_v: int = 40  # on the 288-line canvas: keeps lines above short-video apps' bottom UI
    max_chars_per_line: int = 42


class StyleGuide(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a market wants its dialogue adapted (sent to LLM adapters with every request)."""

    formality: str = "match the source"  # e.g. "informal (tu)", "formal (usted)"
    honorifics: str = "adapt to natural local forms of address"
    units: str = "local"  # "metric", "imperial", "local"
    currency: str = ""  # e.g. "BRL"; empty: keep the source's
    names: str = "keep"  # "keep" the source names, or "localize" them from the series bible
    profanity: str = "soften"  # "keep", "soften", "remove"
    reading_speed_cps: float = 17.0  # subtitle characters per second a viewer can read
    speaking_rate_cps: float = 15.0  # characters per second of natural speech, for length budgets
    notes: str = ""


class AiLabel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str = "AI-generated dub"
    visible: bool = True  # burn a small label into the picture; metadata always carries it


class FaceSwap(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    character: str  # the series cast's character id (e.g. SPEAKER_00) whose face is replaced
    face: str  # an image of the target face
    consent: str  # the consent record (TOML/JSON) for that face: who, when, scope; refused without it
    backend: str = "classic"  # "classic" (dlib landmarks, runs anywhere) or "insightface" (the user's inswapper model)


class PictureSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What is done to the picture itself; everything is off unless asked for, except painting out the
    source's burned-in subtitles when this market's subtitles are burned in (by default, whenever the
    source's are in another language than the market's: see RenderSettings.subtitles)."""

    lip_align: bool = False  # move each dub line's onset and end toward the speaking face's mouth
    lip_mouth: str = "haar"  # mouth activity for lip_align: "haar" (OpenCV) or "dlib" (landmarks; non-commercial model)
    lip_sync: str = ""  # "" (off) or "wav2lip-onnx": redraw talking faces' mouths with the user's model
    remove_source_subtitles: str = "auto"  # "auto" (when subtitles are burned in), "on", "off"
    face_swap: tuple[FaceSwap, ...] = ()


class RenderSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How this market's video file is encoded and where its subtitles go."""

    # "auto": "both" when the source has burned-in subtitles its viewers are not assumed to read (they are
    # painted out), else "soft" (localize.stages.render.mode); "soft" (a selectable track only), "burned", "both".
    subtitles: str = "auto"
    preset: str = "source"  # localize.stages.render.presets.PRESETS: "source", "tiktok-1080x1920", "hevc-1080x1920"...
    codec: str = ""  # overrides the preset's: "h264" or "h265"
    crf: int = 0  # overrides the preset's quality (1-51); 0: the preset's
    video_bitrate: str = ""  # e.g. "8M": encode to a bitrate instead of a CRF


class LlmSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The GGUF model the ``llamacpp`` translation backend runs for this market."""

    model: str = ""  # a .gguf path (relative: to the markets file); "": LOCALIZE_LLAMACPP_MODEL, else the packaged one
    sha256: str = ""  # pin the file: a run with a different file stops before any work
    # 1: one line a request (best with small models); 0: each batch in one request, with context lines
    lines_per_request: Literal[0, 1] = 1


class Market(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tag: str
    name: str
    language: str  # ISO 639-1 code the translation and TTS backends use
    # "auto": the best measured route for the source language (localize/stages/translate/routes.toml) among
    # the backends installed; or backend names in order of preference.
    translation: tuple[str, ...] = ("auto",)
    llm: LlmSettings = LlmSettings()
    # false: no dub; the market's subtitles over the source's own voices (e.g. zh-TW for a Mandarin source)
    dub: bool = True
    tts: tuple[str, ...] = ("espeak",)
    voices: dict[str, str] = {}
    max_speed: float = 1.25
    duck_db: float = -15.0  # the original sound under dubbed lines, when it is not separated
    background_duck_db: float = -4.0  # the separated music and effects under dubbed lines
    loudness: LoudnessTarget = LoudnessTarget()
    subtitles: SubtitleStyle = SubtitleStyle()
    ai_label: AiLabel = AiLabel()
    style: StyleGuide = StyleGuide()
    picture: PictureSettings = PictureSettings()
    render: RenderSettings = RenderSettings()
    # A commercial release: any backend whose model weights forbid commercial use is refused before any work.
    commercial: bool = False

    def dubs(self, source_language: str) -> bool:
        """Whether this market is dubbed from a source in `source_language`: not when it keeps the
        original voices (dub = false) or the source already speaks its language."""
        return self.dub and self.language != source_language


# The label of a market that keeps the original voices, unless its file sets one: nothing is dubbed, so it
# shows no "AI-generated dub"; the metadata still says that the subtitles are machine-made.
UNDUBBED_LABEL = AiLabel(text="Machine-translated subtitles", visible=False)


def _parse(path: Path | str, text: str) -> dict[str, Market]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file and re-run.") from exc
    markets: dict[str, Market] = {}
    for tag, body in raw.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [{tag}] must be a table of market settings.")
        try:
            market = msgspec.convert({"tag": tag, **body}, Market)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{path}: market {tag!r}: {exc}; fix the file and re-run.") from exc
        if not market.dub and "ai_label" not in body:
            market = msgspec.structs.replace(market, ai_label=UNDUBBED_LABEL)
        if not 1.0 <= market.max_speed <= 2.0:
            raise ConfigError(f"{path}: market {tag!r}: max_speed must be between 1.0 and 2.0.")
        if market.llm.model and not Path(market.llm.model).expanduser().is_absolute() and isinstance(path, Path):
            llm = msgspec.structs.replace(market.llm, model=str((path.parent / market.llm.model).resolve()))
            market = msgspec.structs.replace(market, llm=llm)
        markets[tag] = market
    return markets


def builtin_markets() -> dict[str, Market]:
    text = resources.files(__package__).joinpath("builtin.toml").read_text(encoding="utf-8")
    return _parse("builtin.toml", text)


def load_markets(*files: Path | str) -> dict[str, Market]:
    """Built-in markets, then each user file's markets on top (same tag replaces)."""
    markets = builtin_markets()
    for file in files:
        path = Path(file)
        markets.update(_parse(path, read_user_text(path, "markets file")))
    return markets


def get_market(tag: str, markets: dict[str, Market] | None = None) -> Market:
    markets = markets if markets is not None else builtin_markets()
    if tag in markets:
        return markets[tag]
    folded = {t.lower(): m for t, m in markets.items()}
    if tag.lower() in folded:
        return folded[tag.lower()]
    raise UnknownNameError("market", tag, markets, "add it in a --markets-file")


__all__ = [
    "AiLabel", "LlmSettings", "LoudnessTarget", "Market", "StyleGuide", "SubtitleStyle",
    "builtin_markets", "get_market", "load_markets",
]
