"""The talking-head evaluation set: fetch the clips, build the two-face shots, read the ground truth.

The clips are real talking heads with their own speech, taken unmodified from public repositories
(bench/data/talking_heads.json lists each one's repository@commit, path and licence). Their footage's own
rights are not documented by those repositories, so the media stay out of git: `prepare()` copies them
into a cache (``$LOCALIZE_BENCH_CACHE``, default ``~/.cache/localize-bench``) from a local git mirror
(``$LOCALIZE_MIRRORS/<owner>+<name>/repo``, default /work/.mirror) or, failing that, from
raw.githubusercontent.com at the pinned commit, and builds the two-face shots from them with ffmpeg:
two clips side by side (same height, both playing, so both mouths move all the time) with the sound of
one clip at a time, switched at the times in the ground truth. Which face speaks each line is then known
by construction; in the single-face clips it is the one face (or none, for an off-screen voice).

    .venv/bin/python bench/talking_heads.py          # prepare the cache and print where it is
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "bench" / "data" / "talking_heads.json"


def cache_dir() -> Path:
    return Path(os.environ.get("LOCALIZE_BENCH_CACHE", Path.home() / ".cache" / "localize-bench")) / "talking_heads"


def truth() -> dict:
    return json.loads(TRUTH.read_text())


def _fetch(source: dict, dst: Path) -> None:
    if source.get("shared"):
        src = (ROOT / source["shared"]).resolve()
        if not src.is_file():
            raise FileNotFoundError(f"{src}: the shared media folder (../shared/media) is not here")
        shutil.copyfile(src, dst)
        return
    repo, commit, path = source["repo"], source["commit"], source["path"]
    mirror = Path(os.environ.get("LOCALIZE_MIRRORS", "/work/.mirror")) / repo.replace("/", "+") / "repo"
    if mirror.is_dir():
        with dst.open("wb") as out:
            if subprocess.run(["git", "-C", str(mirror), "show", f"{commit}:{path}"], stdout=out).returncode == 0:
                return
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    with urllib.request.urlopen(url, timeout=60) as r, dst.open("wb") as out:  # a fixed https URL
        shutil.copyfileobj(r, out)


def _two_face(clip: dict, files: dict[str, Path], dst: Path) -> None:
    """`left` and `right` side by side at 480 px high, trimmed to `duration_s`, with the sound of
    `audio` = [[start_s, "left"|"right"], ...] (each until the next start)."""
    left, right, dur = files[clip["left"]], files[clip["right"]], clip["duration_s"]
    parts, labels = [], []
    for k, (start, side) in enumerate(clip["audio"]):
        end = clip["audio"][k + 1][0] if k + 1 < len(clip["audio"]) else dur
        stream = 0 if side == "left" else 1
        parts.append(f"[{stream}:a]atrim={start}:{end},asetpts=PTS-STARTPTS,aresample=48000,"
                     f"aformat=channel_layouts=mono[a{k}]")
        labels.append(f"[a{k}]")
    graph = (f"[0:v]trim=0:{dur},setpts=PTS-STARTPTS,scale=-2:480,setsar=1,fps=25[l];"
             f"[1:v]trim=0:{dur},setpts=PTS-STARTPTS,scale=-2:480,setsar=1,fps=25[r];[l][r]hstack=2[v];"
             + ";".join(parts) + f";{''.join(labels)}concat=n={len(labels)}:v=0:a=1[a]")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(left), "-i", str(right), "-filter_complex", graph,
                    "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                    "-c:a", "aac", "-b:a", "128k", str(dst)], check=True)


def prepare() -> dict[str, Path]:
    """Every clip of the set in the cache (fetched or built once): clip name -> video path."""
    data, out = truth(), cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for name, source in data["sources"].items():
        dst = out / f"{name}.mp4"
        if not dst.is_file():
            tmp = dst.with_suffix(".part")
            _fetch(source, tmp)
            tmp.rename(dst)
        files[name] = dst
    clips: dict[str, Path] = {}
    for clip in data["clips"]:
        if "left" in clip:
            dst = out / f"{clip['name']}.mp4"
            if not dst.is_file():
                tmp = dst.with_suffix(".part.mp4")
                _two_face(clip, files, tmp)
                tmp.rename(dst)
            clips[clip["name"]] = dst
        else:
            clips[clip["name"]] = files[clip["source"]]
    return clips


if __name__ == "__main__":
    for name, path in prepare().items():
        print(f"{name:24s} {path}")
