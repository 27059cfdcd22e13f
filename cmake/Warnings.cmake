# Warnings as errors for elector's own targets (not for third-party headers,
# which come in as system includes).
add_library(elector_warnings INTERFACE)
target_compile_options(elector_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wimplicit-fallthrough
  -Wformat=2 -Wcast-qual -Wnull-dereference -Wduplicated-cond -Wlogical-op
  -Wmissing-declarations -Wundef
  # g++ 12 also warns when designated initializers leave defaulted members
  # out ({.timeout = 5s}), the idiom elector uses for option structs.
  -Wno-missing-field-initializers)
# g++ 12 at -O3 reports impossible overlaps inside libstdc++'s string
# concatenation (GCC bug 105651, fixed in GCC 13): -Wrestrict is off there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(elector_warnings INTERFACE -Wno-restrict)
endif()
