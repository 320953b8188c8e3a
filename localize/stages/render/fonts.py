"""Subtitle fonts by writing system: a font that has the script's glyphs (and shaping), found on disk.

A market's subtitle font is its ``subtitles.font`` when set to anything but the default; otherwise
the font for the script its language (or, failing that, its text) is written in. Each font is looked
up with fontconfig (``fc-list``); a missing one is a ConfigError naming the Debian package.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from localize.core.errors import ConfigError

DEFAULT_FONT = "DejaVu Sans"  # SubtitleStyle's default: "choose by script"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptFont:
    script: str
    family: str
    package: str  # the Debian package that installs it
    rtl: bool = False


SCRIPT_FONTS: dict[str, ScriptFont] = {
    "latin": ScriptFont(script="latin", family="DejaVu Sans", package="fonts-dejavu-core"),
    "cjk": ScriptFont(script="cjk", family="Noto Sans CJK SC", package="fonts-noto-cjk"),
    # Traditional Chinese: the same Han code points drawn with Taiwan's glyph shapes (Noto's TC region)
    "cjk-traditional": ScriptFont(script="cjk-traditional", family="Noto Sans CJK TC", package="fonts-noto-cjk"),
    "japanese": ScriptFont(script="japanese", family="Noto Sans CJK JP", package="fonts-noto-cjk"),
    "korean": ScriptFont(script="korean", family="Noto Sans CJK KR", package="fonts-noto-cjk"),
    "thai": ScriptFont(script="thai", family="Noto Sans Thai", package="fonts-noto-core"),
    "arabic": ScriptFont(script="arabic", family="Noto Sans Arabic", package="fonts-noto-core", rtl=True),
    "hebrew": ScriptFont(script="hebrew", family="Noto Sans Hebrew", package="fonts-noto-core", rtl=True),
    "devanagari": ScriptFont(script="devanagari", family="Noto Sans Devanagari", package="fonts-noto-core"),
}

LANGUAGE_SCRIPTS = {
    "zh": "cjk", "ja": "japanese", "ko": "korean", "th": "thai", "ar": "arabic", "fa": "arabic", "ur": "arabic",
    "he": "hebrew", "hi": "devanagari", "mr": "devanagari", "ne": "devanagari",
}

# Unicode character-name prefixes -> script (unicodedata.name gives "THAI CHARACTER KO KAI", ...).
_NAME_SCRIPTS = (("CJK", "cjk"), ("HIRAGANA", "japanese"), ("KATAKANA", "japanese"), ("HANGUL", "korean"),
                 ("THAI", "thai"), ("ARABIC", "arabic"), ("HEBREW", "hebrew"), ("DEVANAGARI", "devanagari"))


def text_script(text: str) -> str:
    """The writing system most of `text`'s letters are in ("latin" for Latin, Cyrillic, Greek...)."""
    counts: dict[str, int] = {}
    for ch in text:
        if not (ch.isalpha() or unicodedata.category(ch).startswith("M")):
            continue
        name = unicodedata.name(ch, "")
        script = next((s for prefix, s in _NAME_SCRIPTS if name.startswith(prefix)), "latin")
        counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else "latin"


# How wide text is drawn, for laying subtitles out in rows that fit the picture. libass sizes a font
# so that its ascent plus descent is the ASS font size, so widths are in thousandths of that size:
# exact advances of DejaVu Sans Bold (the default Latin font) for printable ASCII, measured with
# FreeType, and a script's average per character elsewhere (Noto fonts; CJK are full-width).
_ASCII_WIDTHS = (
    299, 392, 447, 720, 598, 860, 749, 263, 392, 392, 449, 720, 326, 356, 326, 314,
    598, 598, 598, 598, 598, 598, 598, 598, 598, 598, 343, 343, 720, 720, 720, 498,
    859, 665, 655, 630, 713, 587, 587, 705, 719, 320, 320, 665, 547, 855, 719, 730,
    629, 730, 661, 618, 586, 697, 665, 947, 662, 622, 623, 392, 314, 392, 720, 429,
    429, 579, 615, 509, 615, 582, 374, 615, 611, 294, 294, 571, 294, 895, 611, 590,
    615, 615, 423, 511, 411, 611, 560, 793, 554, 560, 500, 611, 314, 611, 720,
)
_SCRIPT_WIDTHS = {"cjk": 700, "cjk-traditional": 700, "japanese": 700, "korean": 700, "thai": 300, "arabic": 250,
                  "hebrew": 450, "devanagari": 360}
_OTHER_WIDTH = 650  # letters outside the table (Cyrillic, Greek...): about DejaVu's widest lower case


def char_width(ch: str) -> float:
    """How wide one character is drawn, as a share of the ASS font size (0 for combining marks)."""
    if " " <= ch <= "~":
        return _ASCII_WIDTHS[ord(ch) - 32] / 1000
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0.0
    base = unicodedata.normalize("NFD", ch)[0]
    if base != ch and " " <= base <= "~":  # é, ç, ñ: their base letter
        return _ASCII_WIDTHS[ord(base) - 32] / 1000
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return _SCRIPT_WIDTHS["cjk"] / 1000
    name = unicodedata.name(ch, "")
    script = next((s for prefix, s in _NAME_SCRIPTS if name.startswith(prefix)), "")
    return _SCRIPT_WIDTHS.get(script, _OTHER_WIDTH) / 1000


def text_width(text: str) -> float:
    """How wide `text` is drawn in one row, in units of the ASS font size: exact for ASCII in the
    default Latin font (kerning ignored, which only narrows it), an estimate elsewhere and for other fonts."""
    return sum(char_width(ch) for ch in text)


# Language tags whose script is not their language's default (BCP 47 script and region subtags).
TAG_SCRIPTS = {"zh-hant": "cjk-traditional", "zh-tw": "cjk-traditional", "zh-hk": "cjk-traditional",
               "zh-mo": "cjk-traditional"}


def script_for(language: str, texts: list[str] | tuple[str, ...] = ()) -> ScriptFont:
    """The script font for a language code, or for the texts when the language is not in the table."""
    tag = language.lower()
    script = (next((s for prefix, s in TAG_SCRIPTS.items() if tag == prefix or tag.startswith(prefix + "-")), None)
              or LANGUAGE_SCRIPTS.get(tag.split("-")[0]) or text_script(" ".join(texts)))
    return SCRIPT_FONTS[script]


def font_files(family: str) -> tuple[Path, ...]:
    """The files fontconfig has for `family` (exact family name), or ()."""
    if shutil.which("fc-list") is None:
        return ()
    out = subprocess.run(["fc-list", f":family={family}", "file"], capture_output=True, text=True,
                         errors="replace", check=False).stdout
    return tuple(sorted(Path(line.strip().rstrip(":")) for line in out.splitlines() if line.strip()))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChosenFont:
    family: str
    file: Path | None  # one of its files (its folder is libass's fontsdir); None when not looked up
    rtl: bool


def choose_font(style_font: str, language: str, texts: list[str] | tuple[str, ...] = (), *,
                check: bool = True) -> ChosenFont:
    """The subtitle font for a market: its own font if set, else the script's. With `check` (anything
    drawn into the picture), a font that is not installed is a ConfigError; without, it is not looked
    up (a soft track only names its font; the player picks one)."""
    script = script_for(language, texts)
    family = style_font if style_font != DEFAULT_FONT else script.family
    if not check:
        return ChosenFont(family=family, file=None, rtl=script.rtl)
    files = font_files(family)
    if not files:
        fix = (f"install it (Debian: apt-get install {script.package})" if family == script.family
               else "install it, or set another subtitles.font in a --markets-file")
        raise ConfigError(f"subtitle font {family!r} ({script.script} script, language {language!r}) is not "
                          f"installed; {fix}.")
    return ChosenFont(family=family, file=files[0], rtl=script.rtl)


__all__ = ["SCRIPT_FONTS", "ChosenFont", "ScriptFont", "char_width", "choose_font", "font_files", "script_for",
           "text_script", "text_width"]
