#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium (browser end-to-end),
# Firefox ESR (the cross-browser calls, driven over WebDriver BiDi by puppeteer-core from
# package-lock.json, which downloads no browser of its own),
# iproute2 and util-linux (the private network namespaces WebRTC tests run in), PostgreSQL
# (call history against a real server; the tests start their own cluster on loopback), Redis
# (scale-out tests start their own redis-server on loopback), coturn
# (TURN tests run a real one inside network namespaces they create), nginx (the deploy/ sample
# is tested in front of Parley).
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The NAT routers and firewalls of tests/e2e/networks.py; tc (iproute2) shapes their links.
[ -x /usr/sbin/nft ] || need+=(nftables)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
[ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
# A CJK font, so zh-CN pages in test screenshots show characters rather than boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-system-deps: need root (or sudo) to install: ${need[*]}" >&2
  exit 1
fi

echo "install-system-deps: installing ${need[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian starts coturn as a service on install where it can; the tests run their own.
for service in coturn nginx redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    "${sudo[@]}" systemctl disable --now "$service" || true
  fi
done
