#!/bin/sh
# System packages from Debian: Chromium renders images and PDFs (kaleido, printToPDF) and drives the
# browser tests; poppler-utils reads PDFs back. With --with-office, LibreOffice Calc too, so the
# tests can open exported workbooks the way a user's spreadsheet does.
# Installs what is missing when we are root; otherwise says how, and fails.
set -e
packages="chromium chromium-driver poppler-utils fonts-dejavu-core"
need=""
command -v chromium >/dev/null 2>&1 || need="yes"
command -v pdftoppm >/dev/null 2>&1 || need="yes"
if [ "$1" = "--with-office" ]; then
  packages="$packages libreoffice-calc-nogui"
  command -v soffice >/dev/null 2>&1 || need="yes"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing from Debian (once): $packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
  exit 0
fi
echo "Missing system packages. Install them as root: apt-get install -y $packages" >&2
exit 1
