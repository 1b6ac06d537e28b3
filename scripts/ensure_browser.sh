#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed for the dashboard's browser test.
# Idempotent: does nothing when both binaries exist. Needs root (apt-get) otherwise.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver
