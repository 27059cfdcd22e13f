// The main of the AFL++ executables fuzz_<target> (ELECTOR_FUZZ builds):
// a deferred fork server and persistent mode with the test case in shared
// memory, through AFL++'s runtime (afl-compiler-rt.o), which CMake links
// in. Outside afl-fuzz it runs the target once on stdin.
//
// What afl-cc's macros (__AFL_FUZZ_INIT, __AFL_INIT, __AFL_LOOP,
// __AFL_FUZZ_TESTCASE_BUF/LEN) would expand to, written out, because this
// build uses plain g++ (see tests/fuzz/CMakeLists.txt): afl-fuzz finds the
// two signatures below in the binary to enable persistent mode and the
// deferred fork server, and __afl_sharedmem_fuzzing asks the runtime for
// test cases in shared memory.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_target.hpp"

extern "C" {
int __afl_persistent_loop(unsigned int max_cnt);
void __afl_manual_init();
extern unsigned char* __afl_fuzz_ptr;
extern unsigned int* __afl_fuzz_len;
// Overrides the runtime's weak default (0).
int __afl_sharedmem_fuzzing = 1;
}

namespace {

__attribute__((used)) volatile const char* const persistent_signature = "##SIG_AFL_PERSISTENT##";
__attribute__((used)) volatile const char* const deferred_signature = "##SIG_AFL_DEFER_FORKSRV##";

// Runs of one process before afl-fuzz forks a fresh one.
constexpr unsigned iterations_per_process = 10000;

std::vector<std::uint8_t> read_stdin() {
    std::vector<std::uint8_t> out;
    std::uint8_t buffer[65536];
    for (;;) {
        const ssize_t n = ::read(0, buffer, sizeof buffer);
        if (n <= 0) break;
        out.insert(out.end(), buffer, buffer + n);
    }
    return out;
}

}  // namespace

int main() {
    (void)persistent_signature;
    (void)deferred_signature;
    __afl_manual_init();
    while (__afl_persistent_loop(iterations_per_process) != 0) {
        if (__afl_fuzz_ptr != nullptr) {
            // The input is copied so that reads past its end are caught
            // the same way in every run (and by ASan, in sanitized builds).
            const std::vector<std::uint8_t> input(__afl_fuzz_ptr, __afl_fuzz_ptr + *__afl_fuzz_len);
            elector_fuzz_one(input.data(), input.size());
        } else {
            const auto input = read_stdin();
            elector_fuzz_one(input.data(), input.size());
        }
    }
    return 0;
}
