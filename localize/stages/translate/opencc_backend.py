"""Chinese script conversion with OpenCC: Simplified (``zh``) <-> Traditional as written in Taiwan (``zh-Hant``).

Not a translation but a route leg like one: a Mandarin source becomes Traditional-script subtitles
(``zh->zh-Hant``), and any other source reaches Traditional Chinese through Simplified
(``en->zh`` by the LLM, then ``zh->zh-Hant``; see :func:`localize.stages.translate.route.pivot_for`).
OpenCC's ``s2twp`` converts characters and Taiwan's own phrases (软件 -> 軟體, 鼠标 -> 滑鼠);
``tw2sp`` goes back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from localize.core.errors import ConfigError

SIMPLIFIED = "zh"
TRADITIONAL = "zh-Hant"
# (source, target) -> OpenCC configuration
CONFIGS = {(SIMPLIFIED, TRADITIONAL): "s2twp", (TRADITIONAL, SIMPLIFIED): "tw2sp"}


@functools.cache
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("opencc", "OpenCC"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


class OpenCCTranslator:
    name = "opencc"

    def model_version(self) -> str:
        return f"opencc {_version()}:" + ",".join(sorted(CONFIGS.values()))

    def pairs(self) -> frozenset[tuple[str, str]]:
        try:
            import opencc  # noqa: F401
        except ImportError as exc:
            raise ConfigError("backend 'opencc' needs the Python package 'opencc', a dependency of localize: "
                              "pip install opencc.") from exc
        return frozenset(CONFIGS)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        config = CONFIGS.get((source, target))
        if config is None:
            raise ConfigError(f"opencc converts only {', '.join(f'{s}->{t}' for s, t in CONFIGS)}, not "
                              f"{source}->{target}; use a translation backend for that pair.")
        converter = _converter(config)
        return [converter.convert(text) if text else "" for text in texts]
