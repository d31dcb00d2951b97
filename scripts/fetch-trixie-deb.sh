#!/usr/bin/env bash
# Downloads one package from Debian trixie and unpacks it, without touching the system's apt
# sources: a private apt configuration, checked against the Debian archive's signing keys
# (debian-archive-keyring), and the .deb against the signed index, as for any apt download.
#   scripts/fetch-trixie-deb.sh PACKAGE     prints the folder the package was unpacked into (root/)
# Used by scripts/setup.sh (buildx, cosign on Debian 12) and the nightly workflow (cosign on the
# Ubuntu runner). The mirror is the system's Debian mirror, else deb.debian.org.
set -euo pipefail
package=${1:?usage: scripts/fetch-trixie-deb.sh PACKAGE}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -s "$keyring" ] || { echo "$keyring is missing: install the debian-archive-keyring package" >&2; exit 1; }
mirror=""
if grep -qs '^ID=debian' /etc/os-release; then
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } \
            | grep -v security | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d)
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc"
echo "deb [signed-by=$keyring] $mirror trixie main" > "$work/etc/sources.list"
# apt downloads as its unprivileged _apt user, which must be able to write here
chmod 0755 "$work"
chown -R _apt "$work" 2>/dev/null || true
opts=(-o Dir::Etc::SourceList="$work/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives"
      -o APT::Get::List-Cleanup=0)
apt-get "${opts[@]}" update -qq >&2
(cd "$work" && apt-get "${opts[@]}" -qq download "$package" >&2)
dpkg-deb -x "$work/${package}"_*.deb "$work/root"
echo "$work"
