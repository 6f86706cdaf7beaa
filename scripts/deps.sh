#!/usr/bin/env bash
# Installs the Debian 12 packages es/esd builds, tests and runs with.
# Skips apt when every package is installed already.
set -euo pipefail
packages=(
  cmake g++ make pkg-config
  libcli11-dev libzmq3-dev cppzmq-dev liblmdb-dev lmdb-utils libcereal-dev
  libspdlog-dev libfmt-dev catch2 rapidjson-dev libjq-dev libsodium-dev
  libseccomp-dev scdoc mandoc jq strace time
  # e2e_security_netns: a network namespace (unshare) with an address on it.
  iproute2 util-linux
  zsh fish bash-completion
  libsystemd-dev libtomlplusplus-dev libcpp-httplib-dev curl prometheus lintian
  # The .deb and the unit's checks: cpack's Depends (dpkg-shlibdeps, file),
  # systemd-analyze verify/security (offline: systemd need not run) and the
  # man it looks the unit's Documentation= up with.
  dpkg-dev file systemd man-db
  # scripts/fuzz.sh: clang++ and its libFuzzer and sanitizer runtimes.
  clang libclang-rt-14-dev
  # e2e_dashboard_browser: headless Chromium (playwright-core and axe-core
  # come from npm, pinned by tests/browser/package-lock.json) and a font.
  chromium fonts-dejavu-core
)
# Node.js and npm for that test: any Node.js 20 or later (the machine's own,
# else Debian's).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# kubectl renders the Kubernetes example (kustomize); any kubectl will do.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
