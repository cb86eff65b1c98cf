#!/usr/bin/env bash
# What the tests that render as a person sees need beyond Python and npm (tests/browser.py):
# Debian's chromium, cmark-gfm (GitHub's Markdown) and an emoji font (the report's verdicts
# are emoji; without one the screenshots show boxes and tables are measured narrower).
# Installs only what is missing, so a machine that has them spends no time here.
# With CI=true those tests fail rather than skip without these, so a failed install is said.
set -uo pipefail
missing=()
# MLGATE_CHROMIUM: another Chromium build to use (GitHub's Ubuntu runners have Google Chrome
# and no Debian chromium package)
[ -x "${MLGATE_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v cmark-gfm >/dev/null 2>&1 || missing+=(cmark-gfm)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
[ "${#missing[@]}" -eq 0 ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing ${missing[*]} (apt-get)" >&2
if ! { "${as_root[@]}" apt-get update -qq \
  && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
then
  echo "could not install ${missing[*]}: the browser tests will fail in CI" >&2
fi
exit 0
