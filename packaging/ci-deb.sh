#!/usr/bin/env bash
# packaging/ci-deb.sh -- the Debian package end to end, as root on Debian 12:
# build it (dpkg-buildpackage -us -uc -b, in a copy of the tree), lintian it
# (fails on errors, prints everything), install it with dpkg -i, check the
# lisod user and the installed files, run the installed /usr/sbin/lisod by
# hand on free loopback ports (no systemd here) and ask it for a page over
# HTTP and HTTPS, stop it by its PID, dpkg -r (binary gone, configuration,
# site and user kept), dpkg --purge (configuration, logs and the unchanged
# seeded site gone). .ci/run calls it; it can be run by hand.
#
# It installs and purges the package lisod, so it refuses to run where lisod
# is installed or /var/www/lisod exists (in CI, CI=true, it clears them). The lisod user is left by purge, as
# Debian does; this script deletes it again when it was not there before, so
# every run sees the package create it.
#   KEEP=1 packaging/ci-deb.sh    keep the work directory (the .deb files)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

say() { printf '\n--- %s\n' "$*"; }
die() { printf 'ci-deb: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (dpkg -i, adduser)"
scripts/deps.sh deb

# In CI (CI=true) the machine serves nothing: what an interrupted earlier
# run left is cleared. By hand, a lisod package or site here is someone's.
if [ "${CI:-}" = true ]; then
	if dpkg-query -W -f='${Status}' lisod 2>/dev/null | grep -qv 'not-installed'; then
		echo "ci-deb: purging a lisod package left here"; dpkg --purge lisod
	fi
	[ ! -e /var/www/lisod ] || { echo "ci-deb: removing a /var/www/lisod left here"; rm -rf /var/www/lisod; }
fi
if dpkg-query -W -f='${Status}' lisod 2>/dev/null | grep -qv 'not-installed'; then
	die "the package lisod is installed here already (dpkg --purge lisod first)"
fi
[ ! -e /var/www/lisod ] || die "/var/www/lisod exists: this script would test the seeding against it"
user_before=no
getent passwd lisod >/dev/null && user_before=yes

work=$(mktemp -d /tmp/lisod-deb.XXXXXX)
chmod 0755 "$work"   # lintian runs as nobody and reads the .deb here
pid=""
installed=no
cleanup() {
	rc=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "$installed" = yes ]; then
		dpkg --purge lisod >/dev/null 2>&1 || true
	fi
	if [ "$user_before" = no ] && getent passwd lisod >/dev/null; then
		deluser --system --quiet lisod >/dev/null 2>&1 || true
	fi
	if [ "$user_before" = no ] && getent group lisod >/dev/null; then
		delgroup --system --quiet lisod >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "ci-deb: work directory kept: $work"
	else
		rm -rf "$work"
	fi
	[ "$rc" = 0 ] || echo "ci-deb: FAILED (exit $rc)" >&2
	exit "$rc"
}
trap cleanup EXIT

version=$(dpkg-parsechangelog -S Version)
upstream=${version%-*}
src="$work/lisod-$upstream"

say "copy the tree to $src (no build/, ./lisod, .git)"
mkdir "$src"
tar --exclude=./build --exclude=./lisod --exclude=./.git --exclude=./.pytest_cache \
	--exclude='__pycache__' -cf - . | tar -C "$src" -xf -

say "dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log"
	die "dpkg-buildpackage failed"
fi
grep -E '^\[  (PASSED|FAILED|SKIPPED)|^dpkg-deb: building' "$work/build.log" | sort | uniq -c
arch=$(dpkg --print-architecture)
deb="$work/lisod_${version}_${arch}.deb"
changes="$work/lisod_${version}_${arch}.changes"
[ -f "$deb" ] || die "no $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}'

say "lintian (errors fail; warnings, infos, pedantic tags and overrides are printed)"
# As nobody: lintian warns when it runs as root.
lint_rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work" \
	lintian --info --display-info --pedantic --show-overrides --fail-on error "$changes" \
	>"$work/lintian.txt" 2>&1 || lint_rc=$?
cat "$work/lintian.txt"
echo "(lintian exit $lint_rc; $(grep -c '^E:' "$work/lintian.txt" || true) error(s), $(grep -c '^W:' "$work/lintian.txt" || true) warning(s), $(grep -c '^[IPO]:' "$work/lintian.txt" || true) info/pedantic/overridden)"
[ "$lint_rc" = 0 ] || die "lintian reports errors"

say "dpkg -i"
installed=yes
dpkg -i "$deb"
dpkg-query -W -f='${Package} ${Version} ${Status}\n' lisod

say "the lisod user and the installed files"
getent passwd lisod || die "no lisod user"
getent group lisod || die "no lisod group"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd lisod)
[ "$uid" -lt 1000 ] || die "lisod is not a system user (uid $uid)"
[ "$(getent group lisod | cut -d: -f3)" = "$gid" ] || die "lisod's primary group is not lisod"
[ "$home" = /nonexistent ] && [ ! -e /nonexistent ] || die "lisod's home: $home"
case $shell in */nologin|/bin/false) ;; *) die "lisod's shell: $shell" ;; esac
for f in /usr/sbin/lisod /usr/share/man/man8/lisod.8.gz /lib/systemd/system/lisod.service \
	/lib/systemd/system/lisod.socket /lib/systemd/system/lisod-https.socket \
	/etc/default/lisod /etc/logrotate.d/lisod /usr/share/doc/lisod/copyright \
	/var/www/lisod/index.html /var/www/lisod/style.css; do
	[ -f "$f" ] || die "missing $f"
done
cmp /usr/share/lisod/www/index.html /var/www/lisod/index.html
stat -c '%A %U:%G %n' /usr/sbin/lisod /var/www/lisod /var/www/lisod/*
# deb-systemd-helper enables the service without a running systemd; the
# sockets are opt-in.
[ -L /etc/systemd/system/multi-user.target.wants/lisod.service ] || die "lisod.service not enabled"
[ ! -e /etc/systemd/system/sockets.target.wants/lisod.socket ] || die "lisod.socket enabled"
echo "lisod.service enabled; sockets not enabled"
/usr/sbin/lisod --version

say "run the installed /usr/sbin/lisod by hand (as the service would, on loopback)"
read -r http https < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
logs="$work/log"
install -d -m 0750 -o lisod -g lisod "$logs"
args=(--root /var/www/lisod --listen 127.0.0.1 --http-port "$http" --https-port "$https"
	--workers 2 --log "$logs/error.log" --access-log "$logs/access.log")
if /usr/sbin/lisod --help 2>&1 | grep -q -- '--user'; then
	args=(--user lisod "${args[@]}")
	as_user=yes
else
	echo "TODO: this lisod has no --user yet: it runs as root here"
	as_user=no
fi
echo "/usr/sbin/lisod ${args[*]}"
/usr/sbin/lisod "${args[@]}" </dev/null >"$work/stdout.txt" 2>"$work/stderr.txt" &
pid=$!
up=no
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	if curl -s -o /dev/null "http://127.0.0.1:$http/"; then up=yes; break; fi
	sleep 0.1
done
[ "$up" = yes ] || { cat "$work/stderr.txt" "$logs/error.log" 2>/dev/null; die "lisod did not come up"; }
curl -sS -o "$work/page.html" -w 'HTTP %{http_code} %{content_type} %{size_download} bytes\n' \
	"http://127.0.0.1:$http/"
cmp "$work/page.html" /var/www/lisod/index.html || die "the page is not /var/www/lisod/index.html"
# The throw-away self-signed certificate: -k.
curl -sS -k -o /dev/null -w 'HTTPS %{http_code} %{size_download} bytes\n' \
	"https://127.0.0.1:$https/style.css"
curl -sS -o /dev/null -w 'missing: HTTP %{http_code}\n' "http://127.0.0.1:$http/nope"
ps -o pid=,ppid=,user=,args= --pid "$pid" --ppid "$pid"
if [ "$as_user" = yes ]; then
	for p in $(pgrep -P "$pid") ; do
		[ "$(ps -o user= -p "$p")" = lisod ] || die "worker $p does not run as lisod"
	done
fi
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || die "lisod exited $rc after SIGTERM"
echo "stopped by SIGTERM to pid, exit 0"
grep -c '"GET ' "$logs/access.log" | sed 's/^/access log lines: /'
tail -n 3 "$logs/error.log"

say "dpkg -r lisod"
dpkg -r lisod
[ ! -e /usr/sbin/lisod ] || die "/usr/sbin/lisod is still there"
dpkg-query -W -f='${Status}\n' lisod | grep -q 'config-files' || die "not in config-files state"
[ -f /etc/default/lisod ] || die "remove took the configuration"
[ -f /var/www/lisod/index.html ] || die "remove took the site"
getent passwd lisod >/dev/null || die "remove took the user"
echo "binary gone; /etc/default/lisod, the site and the user kept"

say "dpkg --purge lisod"
echo "<p>mine</p>" >/var/www/lisod/mine.html   # an admin's file: must stay
dpkg --purge lisod
installed=no
for f in /etc/default/lisod /etc/logrotate.d/lisod /var/www/lisod/index.html \
	/var/www/lisod/style.css /var/lib/lisod /var/log/lisod \
	/etc/systemd/system/multi-user.target.wants/lisod.service; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || die "purge left $f"
done
[ "$(ls /var/www/lisod)" = mine.html ] || die "purge took more or less than the seeded files"
rm -r /var/www/lisod
! dpkg-query -W -f='${Status}\n' lisod 2>/dev/null | grep -q 'config-files' || die "still config-files"
getent passwd lisod >/dev/null && echo "configuration, logs and seeded site gone; the admin's file kept; the lisod user kept (Debian practice)"

say "ci-deb: OK ($(basename "$deb"))"
