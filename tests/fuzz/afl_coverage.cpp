// Edge coverage for AFL++ from GCC's own instrumentation.
//
// Debian 12's afl++ 4.04c ships a GCC plugin (afl-g++-fast) built against
// gcc 12.2.0-14; the distribution's gcc is now 12.2.0-14+deb12u1 and the
// plugin refuses to load ("GCC and plugin have incompatible versions").
// Its LLVM mode needs clang 14, whose libstdc++ 12 <expected> is empty
// (it wants __cpp_concepts >= 202002). So ELECTOR_FUZZ builds compile with
// g++ -fsanitize-coverage=trace-pc, which calls __sanitizer_cov_trace_pc()
// at the start of every basic block, and this file turns each call into an
// AFL edge (the previous block and this one) in the map that afl-fuzz
// shares with the runtime, through the runtime's __afl_trace(), the hook
// its own GCC plugin uses.
//
// Compiled without -fsanitize-coverage (it must not call itself).
#include <cstdint>

extern "C" {
void __afl_trace(std::uint32_t location);
// The start of the executable's image (GNU ld): block addresses relative to
// it are the same in every run, whatever address the PIE was loaded at.
extern const char __executable_start;

void __sanitizer_cov_trace_pc();
void __sanitizer_cov_trace_pc() {
    const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)) -
                    reinterpret_cast<std::uintptr_t>(&__executable_start);
    // Fibonacci hashing to 16 bits: the map has 65536 entries.
    __afl_trace(static_cast<std::uint32_t>((static_cast<std::uint64_t>(pc) * 0x9E3779B97F4A7C15ull) >> 48));
}
}
