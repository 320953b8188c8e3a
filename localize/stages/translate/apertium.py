"""Apertium rule-based translation (Debian packages such as apertium-eng-spa).

Fast and offline, though rough; pairs are whatever language-pair packages
are installed (``apertium -l``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence

from localize.core.errors import MissingToolError, ToolFailedError
from localize.core.media.ffmpeg import last_line

# ISO 639-3 codes Apertium uses -> ISO 639-1 codes localize uses.
ISO3_TO_1 = {
    "eng": "en", "spa": "es", "cat": "ca", "por": "pt", "glg": "gl", "epo": "eo", "eus": "eu",
    "fra": "fr", "ita": "it", "oci": "oc", "arg": "an", "ast": "ast", "srd": "sc", "ron": "ro",
}
ISO1_TO_3 = {v: k for k, v in ISO3_TO_1.items()}
_SEPARATOR = "\n\n"


@functools.cache
def installed_modes() -> tuple[str, ...]:
    if shutil.which("apertium") is None:
        raise MissingToolError("apertium", "apt-get install apertium apertium-eng-spa (and other pairs)")
    proc = subprocess.run(["apertium", "-l"], capture_output=True, text=True, check=False)
    return tuple(m.strip() for m in proc.stdout.splitlines() if m.strip())


class ApertiumTranslator:
    name = "apertium"

    def model_version(self) -> str:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Package}=${Version} ", "apertium*"],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() or "apertium"

    def pairs(self) -> frozenset[tuple[str, str]]:
        found = set()
        for mode in installed_modes():
            src, _, tgt = mode.partition("-")
            if src in ISO3_TO_1 and tgt in ISO3_TO_1:  # skips variants such as eng-cat_valencia
                found.add((ISO3_TO_1[src], ISO3_TO_1[tgt]))
        return frozenset(found)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        mode = f"{ISO1_TO_3[source]}-{ISO1_TO_3[target]}"
        # One call for the whole batch: lines are kept apart by blank lines, which Apertium preserves.
        flat = [" ".join(t.split()) for t in texts]
        proc = subprocess.run(
            ["apertium", "-u", mode], input=_SEPARATOR.join(flat) + "\n", capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise ToolFailedError("apertium", f"translating {mode}", last_line(proc.stderr))
        out = [part.strip() for part in proc.stdout.strip("\n").split(_SEPARATOR)]
        if len(out) != len(texts):  # a line it split or joined: fall back to one call per line
            return [self.translate([t], source, target)[0] for t in texts] if len(texts) > 1 else [proc.stdout.strip()]
        return out
