#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests: Playwright drives the system's
# browser, so no browser is downloaded. Installs the package when it is missing and this
# runs as root (as CI does); otherwise says what to do in one line and exits 2.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "the console's browser tests need Debian's chromium package: sudo apt-get install chromium" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
