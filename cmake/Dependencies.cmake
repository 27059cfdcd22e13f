# Every dependency comes from a Debian 12 package (scripts/install-deps).
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)

# cpp-httplib 0.11 is a compiled library without a CMake config; its
# pkg-config Cflags carry CPPHTTPLIB_OPENSSL_SUPPORT etc., which every user of
# the header must see exactly as the library was built.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CPP_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
add_library(elector::httplib ALIAS PkgConfig::CPP_HTTPLIB)

if(ELECTOR_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
