#!/bin/sh
# Chromium (from Debian) renders images and PDFs through kaleido and drives the browser tests.
# Installs it when missing and we are root; otherwise says how, and fails.
set -e
if command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium and poppler-utils from Debian (once)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver poppler-utils fonts-dejavu-core >/dev/null
  exit 0
fi
echo "Chromium is missing. Install it as root: apt-get install -y chromium chromium-driver poppler-utils" >&2
exit 1
