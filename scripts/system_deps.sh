#!/usr/bin/env bash
# Install the Debian packages the app and its tests need, where they are missing (needs root or sudo).
set -euo pipefail
need=()
command -v python3.11 >/dev/null || need+=(python3.11 python3.11-venv python3.11-dev)
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || need+=(libmariadb-dev pkg-config)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
# Tesseract's language packs (the languages /api/v1/ocr/options offers), its orientation detection (osd),
# and the Noto CJK fonts the tests render Chinese pages with.
for lang in eng deu fra spa ita por nld chi-tra chi-sim jpn kor osd; do
  dpkg -s "tesseract-ocr-$lang" >/dev/null 2>&1 || need+=("tesseract-ocr-$lang")
done
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v mariadb >/dev/null || need+=(mariadb-client)
command -v ss >/dev/null || need+=(iproute2)  # tests/ops/test_host_metrics.py finds Prometheus's port
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)  # tests/deploy: the shipped nginx.conf
command -v pdftotext >/dev/null || need+=(poppler-utils)  # tests: the searchable PDF's text as a viewer reads it
command -v qpdf >/dev/null || need+=(qpdf)  # tests: qpdf --check on the searchable PDF
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)  # tests: pages in Latin, Greek, Cyrillic
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)  # tests: Chinese and Japanese pages; CJK in Chromium (陳美玲)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "Installing system packages: ${need[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
