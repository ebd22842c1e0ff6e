# Every third-party dependency, found once, as imported targets. All come from
# Debian 12 packages installed by scripts/install-deps.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)                 # Boost::headers (Beast, Asio)
find_package(CURL REQUIRED)                       # CURL::libcurl
find_package(OpenSSL REQUIRED)                    # OpenSSL::Crypto (RS256 for OAuth service accounts)
find_package(LibXml2 REQUIRED)                    # LibXml2::LibXml2
find_package(SQLite3 REQUIRED)                    # SQLite::SQLite3
find_package(fmt REQUIRED)                        # fmt::fmt
find_package(spdlog REQUIRED)                     # spdlog::spdlog
find_package(nlohmann_json 3.10 REQUIRED)         # nlohmann_json::nlohmann_json
find_package(CLI11 CONFIG REQUIRED)               # CLI11::CLI11
find_package(toml11 REQUIRED)                     # toml11::toml11
find_package(GTest REQUIRED)                      # GTest::gtest_main GTest::gmock
find_package(rapidcheck CONFIG REQUIRED)          # rapidcheck
pkg_check_modules(ICAL REQUIRED IMPORTED_TARGET libical)      # PkgConfig::ICAL
pkg_check_modules(EBOOK REQUIRED IMPORTED_TARGET libebook-contacts-1.2)  # PkgConfig::EBOOK (EVCard)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)  # PkgConfig::SODIUM
pkg_check_modules(PQXX IMPORTED_TARGET libpqxx)               # PkgConfig::PQXX (optional)
if(TANDEM_BENCH)
  find_package(benchmark REQUIRED)                # benchmark::benchmark
endif()

# tandem_allocator: jemalloc for the long-running binaries (tandemd and the
# benchmarks that stand for it). A sync parses and maps every event, allocation
# by allocation; with jemalloc the 10,000-event first sync takes ~20 % less CPU
# than with glibc's malloc (docs/bench-sync-caldav.md). Not with the sanitizers,
# which bring their own allocator.
add_library(tandem_allocator INTERFACE)
if(TANDEM_JEMALLOC AND NOT TANDEM_SANITIZE)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)  # libjemalloc-dev
  target_link_libraries(tandem_allocator INTERFACE PkgConfig::JEMALLOC)
endif()
