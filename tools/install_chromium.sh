#!/bin/sh
# Debian's Chromium for the browser tests (tests/web/browser), which drive it through the
# playwright package (a dev dependency). Playwright's own browser downloads are never used
# (`playwright install` fetches a build from outside the package registries).
#
#   tools/install_chromium.sh               install it when missing; fail if it cannot be
#   tools/install_chromium.sh --if-possible install it when missing and this is root with
#                                           apt-get; otherwise say the browser tests will
#                                           skip, and succeed (`make test` on any machine)
#
# $APPEALS_CHROMIUM names another Chromium executable to use instead.
set -eu

mode=required
[ "${1:-}" = "--if-possible" ] && mode=if-possible

found() {
    if [ -n "${APPEALS_CHROMIUM:-}" ]; then
        [ -x "$APPEALS_CHROMIUM" ]
        return
    fi
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

found && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${APPEALS_CHROMIUM:-}" ]; then
    echo "Installing Debian's chromium for the browser tests (apt-get install chromium)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a fresh machine: update, then retry.
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } ||
        true
    found && exit 0
fi

what="Chromium (Debian's chromium package) is missing and could not be installed here"
if [ "$mode" = if-possible ]; then
    echo "$what (that needs root and apt-get): the browser tests (tests/web/browser) will skip." >&2
    exit 0
fi
echo "$what: run 'apt-get install chromium' as root, or set APPEALS_CHROMIUM." >&2
exit 1
