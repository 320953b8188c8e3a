# Sourced by scripts/demo and scripts/test: install what localize needs, and only what is missing.
# A second run finds everything in place and installs nothing.
# LOCALIZE_SETUP=demo (scripts/demo) installs only what the demo needs; the default (scripts/test)
# installs everything the test suite exercises.
set -euo pipefail
SETUP="${LOCALIZE_SETUP:-test}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LOCALIZE_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
# Debian packages: ffmpeg for all media work, espeak-ng for voices, Apertium pairs for rule-based
# translation, DejaVu for the visible AI label and subtitles.
# OpenCV's wheel needs libGL and GLib; Noto CJK draws Chinese subtitles; the Asterisk music-on-hold
# tracks (CC BY-SA 3.0) are the real music the tests mix under speech. Noto core covers Thai, Arabic
# and Devanagari subtitles; Chromium is the browser the review page is tested in (Playwright drives it);
# the PostgreSQL server is the team database the catalog tests start a throwaway cluster of.
DEB_PACKAGES=(ffmpeg espeak-ng fonts-dejavu-core fonts-noto-cjk libgl1 libglib2.0-0)
if [ "$SETUP" != demo ]; then
  DEB_PACKAGES+=(apertium apertium-eng-spa apertium-eng-cat apertium-spa-cat fonts-noto-core
                 asterisk-moh-opsound-wav chromium postgresql)
fi

say() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    say "missing system packages: ${missing[*]} — install them with your package manager, then re-run."
    exit 2
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$PY" ]; then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "localize needs Python 3.11 or newer"; exit 2; }
  say "creating virtual environment $VENV"
  python3 -m venv "$VENV"
fi

# Reinstall only when the project's requirements change, or an extra is wanted that is not installed.
# llm, seq2seq and demucs bring their libraries: their tests build tiny models and load them back for real.
# The demo needs OCR (burned-in subtitles), speaker embeddings (a voice per character) and the
# offline LLM (llamacpp); the tests need every extra.
if [ "$SETUP" = demo ]; then
  EXTRAS="${LOCALIZE_EXTRAS:-ocr,speakers,llamacpp}"
else
  EXTRAS="${LOCALIZE_EXTRAS:-dev,ocr,speakers,llamacpp,llm,seq2seq,demucs,kokoro,picture,faces,ray,c2pa,postgres}"
fi
hash="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
stamp="$VENV/.localize-install"
have=""
[ -f "$stamp" ] && read -r stamp_hash have < "$stamp" && [ "$stamp_hash" = "$hash" ] || have=""
missing_extras=""
for extra in ${EXTRAS//,/ }; do
  [[ ",$have," == *",$extra,"* ]] || missing_extras+="$extra,"
done
if [ -n "$missing_extras" ]; then
  [ -n "$have" ] && EXTRAS="$have,$EXTRAS"  # keep what an earlier setup installed
  EXTRAS="$(tr ',' '\n' <<< "$EXTRAS" | awk 'NF && !seen[$0]++' | paste -sd, -)"
  want="$hash $EXTRAS"
  say "installing localize[$EXTRAS] and its Python packages into $VENV"
  if [[ ",$EXTRAS," =~ ,(speakers|llm|seq2seq|xtts|demucs), ]] && ! "$PY" -c "import torch" 2>/dev/null; then
    # This CPU build lies on this machine's disk; an unpinned torch pulls a multi-GB CUDA build.
    "$PY" -m pip install -q --disable-pip-version-check torch==2.13.0
  fi
  "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[$EXTRAS]"
  echo "$want" > "$stamp"
fi
