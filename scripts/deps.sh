#!/bin/sh
# scripts/deps.sh [PROFILE] -- make sure the Debian/Ubuntu packages that one
# make target needs are installed. As root (with apt-get) the missing ones
# are installed (apt-get update first, only when something is missing);
# otherwise they are named in one line and we exit 1. Not Debian (no
# dpkg-query): nothing is checked.
#
#   build     make, make run: gcc, its libc headers, make, pkg-config, OpenSSL,
#             libinih (the configuration file parser), zlib (gzip on the fly)
#   check     make check (the default; "test" is the same): build, plus
#             cmocka for the unit tests, and for the integration suite
#             python3 (/usr/bin/python3 runs pytest and the CGI scripts),
#             pytest, Flask (test_blog.py), curl, the openssl CLI (test
#             certificates, s_client), ab (test_http_load.py) and util-linux
#             (setpriv: root runs a server as nobody; prlimit: test_limits.py;
#             setsid: tests/integ/cgi/holder), HAProxy (test_balancer.py's
#             rolling restart), systemd (systemd-socket-activate:
#             test_systemd.py; no running systemd needed), Chromium, its
#             ChromeDriver and NSS's certutil (test_h2_browser.py: headless,
#             driven over WebDriver, trusting a test CA in its own NSS
#             database), nghttp and h2load (nghttp2-client) and python-h2
#             (python3-h2: tests/integ/h2util.py) for test_h2*.py. The fuzz-corpus replay is
#             built with the normal compiler: nothing more.
#   asan      make asan: check; gcc brings its own ASan/UBSan runtimes
#             (libasan8, libubsan1 through libgcc-12-dev); when CC is clang,
#             clang and its runtimes (libclang-rt-14-dev) as well
#   valgrind  make valgrind: build, the integration suite's packages, valgrind
#   fuzz      make fuzz: build, clang, libclang-rt-14-dev (libFuzzer, ASan)
#   soak      make soak: build, python3, and the openssl CLI and curl that
#             tests/integ/tlsutil.py (imported by the soak) needs
#   deb       packaging/ci-deb.sh: build, the unit tests' cmocka (dh_auto_test
#             runs them), debhelper, dpkg-dev, build-essential
#             (dpkg-checkbuilddeps wants it), lintian, and python3 (a free
#             port) and curl (a request) for the installed server; adduser
#             for the package. No fakeroot: Rules-Requires-Root: no.
#   ci        .ci/run: all of the above (it also builds lisod with clang)
set -eu

build="gcc libc6-dev make pkg-config libssl-dev libinih-dev zlib1g-dev libnghttp2-dev"
unit="libcmocka-dev"
integ="python3 python3-pytest python3-flask curl openssl apache2-utils util-linux haproxy systemd chromium chromium-driver libnss3-tools nghttp2-client python3-h2 strace"
clang="clang libclang-rt-14-dev"
deb="debhelper dpkg-dev build-essential lintian python3 curl adduser"

profile=${1:-check}
case $profile in
build)		want="$build" ;;
check|test)	want="$build $unit $integ" ;;
asan)		want="$build $unit $integ"
		cc=$(command -v "${CC:-cc}" 2>/dev/null || true)
		case $(readlink -f "${cc:-/}") in *clang*) want="$want $clang" ;; esac ;;
valgrind)	want="$build $integ valgrind" ;;
fuzz)		want="$build $clang" ;;
soak)		want="$build python3 openssl curl" ;;
deb)		want="$build $unit $deb" ;;
ci)		want="$build $unit $integ $clang valgrind $deb" ;;
*)	echo "usage: scripts/deps.sh [build|check|asan|valgrind|fuzz|soak|deb|ci]" >&2
	exit 2 ;;
esac

command -v dpkg-query >/dev/null 2>&1 || exit 0   # not Debian: nothing to check

missing() {
	m=""
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			m="$m $p"
	done
	echo "$m"
}

todo=$(missing)
[ -z "$todo" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "lisod: installing ($profile):$todo"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $todo >/dev/null
	todo=$(missing)
	[ -z "$todo" ] && exit 0
	echo "lisod: still missing after apt-get install:$todo" >&2
	exit 1
fi
echo "lisod: missing packages for '$profile':$todo (install them: sudo apt-get install$todo)" >&2
exit 1
