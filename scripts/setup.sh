#!/usr/bin/env bash
# Installs what OmniTune needs on a bare Debian 12 machine, skipping whatever is already there:
# the Debian packages in scripts/deps.txt (apt-get, through sudo when not root) and the project venv
# (.venv) with the pinned Python packages of requirements.txt (libtorch comes from the torch wheel).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/deps.txt
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
want=$(sha256sum requirements.txt | cut -d' ' -f1)
stamp=.venv/.requirements.sha256
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: installing requirements.txt into .venv (first time: about 3 GB of wheels, a few minutes)"
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi
