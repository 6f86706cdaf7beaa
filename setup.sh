#!/usr/bin/env bash
# Installs the packages, builds, installs es and esd (with their man pages,
# completions, the systemd unit and the example configuration) and starts
# esd listening on tcp://127.0.0.1:7150 (loopback only):
#   - where systemd runs: as the unit esd.service (user esd, data in
#     /var/lib/esd), enabled so that it starts at boot;
#   - elsewhere, as root: as the system user esd (made here, as the .deb
#     makes it), data in /var/lib/esd, log in /var/log/esd/esd.log;
#   - elsewhere, as another user: as that user, data in ~/.local/share/esd.
# Running it again installs the new build and starts what is not running.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo cmake --install build >/dev/null

# The system user esd, as the .deb's postinst makes it.
ensure_user() {
  getent passwd esd >/dev/null ||
    $sudo useradd --system --user-group --home-dir /var/lib/esd --no-create-home \
      --shell /usr/sbin/nologin --comment "es event store daemon" esd
}

wait_ready() {
  for _ in $(seq 50); do es status >/dev/null 2>&1 && break; sleep 0.1; done
  es status -o text
}

if [ -d /run/systemd/system ]; then
  ensure_user
  $sudo systemctl daemon-reload
  # Type=notify: this returns once esd serves (or has failed to start).
  $sudo systemctl enable --now esd.service
  wait_ready
  echo "esd runs as esd.service (user esd); see systemctl status esd and journalctl -u esd"
  exit 0
fi

if es status >/dev/null 2>&1; then
  echo "esd is already running: $(es status -o text | head -1)"
  exit 0
fi
esd=$(command -v esd)
config=()
[ -f /etc/esd/esd.toml ] && config=(--config /etc/esd/esd.toml)
if [ "$(id -u)" -eq 0 ]; then
  # Not as root: as the user esd, on the unit's directories.
  ensure_user
  install -d -m 0700 -o esd -g esd /var/lib/esd /var/log/esd
  log=/var/log/esd/esd.log
  # setpriv execs (runuser would stay in between): $! is esd's pid.
  setpriv --reuid=esd --regid=esd --init-groups --inh-caps=-all \
    env ESD_DATA=/var/lib/esd nohup "$esd" "${config[@]}" </dev/null >>"$log" 2>&1 &
  who="the user esd"
else
  log=${TMPDIR:-/tmp}/esd.log
  nohup "$esd" </dev/null >"$log" 2>&1 &
  who="$(id -un)"
fi
pid=$!
wait_ready
echo "esd runs as pid $pid, as $who (log: $log); stop it with: es stop"
