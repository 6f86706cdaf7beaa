#!/usr/bin/env bash
# tests/e2e/deb_test.sh ESD ES BUILD_DIR SOURCE_DIR: the Debian package.
# Builds the .deb with cpack from the build tree, runs lintian (no E: line),
# unpacks it with dpkg -x (never installs it), checks its files (binaries,
# every man page, completions, the unit, the conffile, the pkg-config file),
# its control data (Depends from dpkg-shlibdeps, maintainer scripts,
# conffiles), runs systemd-analyze verify on the unpacked unit, starts esd
# from the unpacked binary and reaches it with the unpacked es, and builds
# a client against the unpacked library with its pkg-config file.
source "$(dirname "$0")/lib.sh"
BUILD=${3:?usage: $0 ESD ES BUILD_DIR SOURCE_DIR}
SRC=${4:?}
e2e_init "$1" "$2"
export LC_ALL=C SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0
for tool in cpack lintian dpkg-deb dpkg-shlibdeps systemd-analyze pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool is needed (scripts/deps.sh)"
done

check "cpack builds the .deb"
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/pkg" >"$TMP/cpack.log" 2>&1 ||
  fail "cpack: $(tail -20 "$TMP/cpack.log")"
deb=$(ls "$TMP"/pkg/esd_*.deb)
echo "   $(basename "$deb"), $(($(stat -c %s "$deb") / 1024)) KiB"

check "lintian: no errors"
lintian --tag-display-limit 0 "$deb" >"$TMP/lintian.log" 2>&1 || true
sed 's/^/   /' "$TMP/lintian.log"
if grep -q '^E:' "$TMP/lintian.log"; then fail "lintian reports errors"; fi

check "its control data: Depends from dpkg-shlibdeps, maintainer scripts, conffiles"
dpkg-deb -e "$deb" "$TMP/control"
depends=$(sed -n 's/^Depends: //p' "$TMP/control/control")
echo "   Depends: $depends"
for dep in adduser libc6 libzmq5 liblmdb0 libsystemd0; do
  assert_contains "$depends" "$dep" "Depends"
done
for script in postinst prerm postrm; do
  [ -x "$TMP/control/$script" ] || fail "no $script"
  sh -n "$TMP/control/$script" || fail "$script does not parse"
done
grep -q 'adduser --system' "$TMP/control/postinst" || fail "postinst does not make the user esd"
if [ -f "$SRC/examples/esd.toml" ]; then
  assert_eq "$(cat "$TMP/control/conffiles")" /etc/esd/esd.toml "conffiles"
fi

check "its files"
root=$TMP/root
dpkg -x "$deb" "$root"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
expect=(usr/bin/es usr/bin/esd lib/systemd/system/esd.service
  usr/share/bash-completion/completions/es usr/share/bash-completion/completions/esd
  usr/share/zsh/vendor-completions/_es usr/share/fish/vendor_completions.d/esd.fish
  usr/share/doc/esd/copyright usr/share/doc/esd/changelog.gz
  usr/include/es/client.h usr/include/es/protocol/messages.h
  "usr/lib/$multiarch/libes.a" "usr/lib/$multiarch/pkgconfig/es.pc")
for scd in "$SRC"/man/*.scd; do
  page=$(basename "$scd" .scd)
  expect+=("usr/share/man/man${page##*.}/$page.gz")
done
[ -f "$SRC/examples/esd.toml" ] && expect+=(etc/esd/esd.toml)
for f in "${expect[@]}"; do
  [ -f "$root/$f" ] || fail "the package has no /$f"
done
echo "   ${#expect[@]} files, among $(find "$root" -type f | wc -l)"
grep -q '^ExecStart=/usr/bin/esd --config /etc/esd/esd.toml$' "$root/lib/systemd/system/esd.service" ||
  fail "the unit's ExecStart: $(grep ExecStart "$root/lib/systemd/system/esd.service")"

check "systemd-analyze verify accepts the unpacked unit (with the unpacked esd)"
mkdir -p "$TMP/unit"
sed "s|^ExecStart=/usr/bin/esd |ExecStart=$root/usr/bin/esd |" "$root/lib/systemd/system/esd.service" \
  >"$TMP/unit/esd.service"
out=$(MANPATH=$root/usr/share/man systemd-analyze verify "$TMP/unit/esd.service" 2>&1) ||
  fail "verify: $out"
[ -z "$out" ] || fail "verify: $out"

check "esd from the package serves; es from the package reaches it"
ESD=$root/usr/bin/esd
ES=$root/usr/bin/es
assert_exit 0 "$ESD" --version
start_esd "$TMP/data"
assert_exit 0 "$ES" append deb-1 -t Installed -d '{"from":"deb"}'
assert_exit 0 "$ES" status -o json
assert_eq "$(jq -r .head <<<"$OUT")" 1 "the head after one append"

check "a client built with the package's headers, library and pkg-config file"
cat >"$TMP/client.cc" <<'CC'
#include <cstdio>

#include <es/client.h>

int main(int argc, char** argv) {
  es::Client client(argv[argc - 1]);
  auto status = client.status();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.status().message().c_str());
    return 1;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(status->head));
  return 0;
}
CC
flags=$(PKG_CONFIG_PATH=$root/usr/lib/$multiarch/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root \
  pkg-config --cflags --libs es) || fail "pkg-config es"
# shellcheck disable=SC2086
c++ -std=c++20 -o "$TMP/client" "$TMP/client.cc" $flags 2>"$TMP/cc.log" ||
  fail "the client does not build with: $flags
$(head -30 "$TMP/cc.log")"
assert_exit 0 "$TMP/client" "$ES_SERVER"
assert_eq "$OUT" 1 "the client's head"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit status"
