#!/bin/sh
# Make sure what lisod needs to build (and, with "test", to be tested) is
# installed. As root on Debian/Ubuntu the missing packages are installed
# with apt-get; otherwise the missing ones are named in one line and we fail.
set -eu
profile=${1:-test}
build="gcc make pkg-config libssl-dev"
test="libcmocka-dev python3 python3-pytest python3-flask curl openssl apache2-utils clang libclang-rt-14-dev valgrind procps util-linux"
want=$build
[ "$profile" = test ] && want="$build $test"

command -v dpkg-query >/dev/null 2>&1 || exit 0   # not Debian: nothing to check
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "lisod: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	exit 0
fi
echo "lisod: missing packages:$missing (install them: sudo apt-get install$missing)" >&2
exit 1
