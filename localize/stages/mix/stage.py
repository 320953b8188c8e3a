"""The mix stage: the original's background without its dialogue (shared by the markets), then each
market's dub mixed over it and normalised to the market's loudness."""

from __future__ import annotations

from pathlib import Path

from localize.core import jsonio
from localize.core.artifacts import DubTrack, Script
from localize.core.cache import ArtifactStore
from localize.core.markets import Market
from localize.core.options import RunOptions
from localize.core.progress import Progress
from localize.core.stage import Built, Stage
from localize.stages.audio.stage import Audio
from localize.stages.mix.mixer import CODEC_HEADROOM_DB, mix_dub, normalise
from localize.stages.voice.dub import DUB_RATE

SEPARATE = Stage("separate", version=1)
MIX = Stage("mix", version=4)  # 3: two-pass loudnorm honouring the target LRA; 4: ebur128 meter, single-pass loudnorm


def separate_background(audio: Audio, script_key: str, script: Script, store: ArtifactStore,
                        options: RunOptions, progress: Progress) -> Built[Path] | None:
    """The original sound without its dialogue (music and effects), shared by every dubbed market."""
    if options.separation == "off":
        return None
    from localize.stages.mix.separate import SEPARATORS, create_separator

    sep = options.separate
    key = SEPARATE.key(inputs=[audio.key, script_key], backend=sep.backend,
                       model_version=SEPARATORS.load(sep.backend)(options=sep).model_version(),
                       options=jsonio.to_dict(sep))

    def build(tmp: Path) -> None:
        task = progress.task("separate background", None)
        separator = create_separator(sep)
        try:
            separator.separate(audio.bed, [(ln.start_ms, ln.end_ms) for ln in script.lines], tmp)
        finally:
            separator.release()
            task.done()

    return SEPARATE.built(store, key, build, lambda p: p / "background.wav")


def mix_market(market: Market, audio: Audio, dub: Built[DubTrack] | None, background: Built[Path] | None,
               store: ArtifactStore) -> Built[Path]:
    """Dub over the separated background (ducked a little), or over the ducked original sound."""
    target = market.loudness
    bed_key, bed = (background.key, background.value) if (background and dub) else (audio.key, audio.bed)
    duck_db = market.background_duck_db if (background and dub) else market.duck_db
    key = MIX.key(inputs=[bed_key, dub.key if dub else "original"],
                  options={"duck_db": duck_db, "lufs": target.integrated_lufs, "headroom": CODEC_HEADROOM_DB,
                           "tp": target.true_peak_dbtp, "lra": target.lra})

    def build(tmp: Path) -> None:
        mix_dub(bed, dub.value if dub else None, dub.path if dub else None, tmp / "raw.wav", duck_db=duck_db)
        normalise(tmp / "raw.wav", tmp / "mix.wav", lufs=target.integrated_lufs, true_peak=target.true_peak_dbtp,
                  lra=target.lra, rate=DUB_RATE)
        (tmp / "raw.wav").unlink()

    return MIX.built(store, key, build, lambda p: p / "mix.wav")
