#!/usr/bin/env bash
# Installs every Debian 12 package Tandem needs to build, test and benchmark.
# The one list of dependencies: README and .ci/run both call this script.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache mold pkg-config git curl ca-certificates
  libasan8 libubsan1 libtsan2  # g++'s sanitizer runtimes (CI: ASan/UBSan and TSan steps)
  libboost-dev            # Boost.Beast / Asio (header-only)
  libcurl4-openssl-dev    # HTTP client
  libssl-dev              # OpenSSL: RS256 signatures (OAuth service accounts)
  libxml2-dev             # WebDAV XML
  libical-dev             # iCalendar
  libebook-contacts1.2-dev  # vCard: evolution-data-server's EVCard (2.1, 3.0 and 4.0 read)
  libicu-dev              # Windows zone names -> IANA (CLDR windowsZones via ICU)
  libsqlite3-dev sqlite3  # embedded store
  libpq-dev libpqxx-dev   # PostgreSQL store
  libsodium-dev           # argon2id, sealed credentials, tokens
  libjemalloc-dev         # allocator of tandemd (cmake -DTANDEM_JEMALLOC=OFF: glibc's)
  libcli11-dev libspdlog-dev libfmt-dev libtoml11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  clang libclang-rt-14-dev  # libFuzzer and sanitizer runtimes
)
PEER_PKGS=(
  radicale xandikos vdirsyncer khal wrk python3 procps iproute2
  litmus python3-caldav khard  # clients of the CalDAV/CardDAV server (tests/e2e_davserver)
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${BUILD_PKGS[@]}" "${PEER_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#BUILD_PKGS[@]}+${#PEER_PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
