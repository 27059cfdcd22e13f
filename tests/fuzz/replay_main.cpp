// The main of fuzz_replay_<target> (normal builds): runs the target once on
// each file given, and on every file under each directory given (sorted,
// README files skipped), then prints how many it ran. A broken property
// aborts, after the file's name was printed. Used by ctest on the committed
// corpus and regressions, and to reproduce a crash AFL++ saved:
//   build/dev/tests/fuzz/fuzz_replay_decide path/to/crash
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_target.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_under(const fs::path& root) {
    std::vector<fs::path> out;
    if (fs::is_directory(root)) {
        for (const auto& entry : fs::recursive_directory_iterator(root)) {
            if (!entry.is_regular_file()) continue;
            const std::string name = entry.path().filename().string();
            if (name.starts_with("README") || name.starts_with(".")) continue;
            out.push_back(entry.path());
        }
        std::sort(out.begin(), out.end());
    } else {
        out.push_back(root);
    }
    return out;
}

// (stdio rather than streams: g++ 12 at -O2 reports a false null
// dereference inside istreambuf_iterator.)
bool read_file(const fs::path& path, std::vector<char>& out) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    char buffer[65536];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.insert(out.end(), buffer, buffer + n);
    const bool ok = std::ferror(f) == 0;
    std::fclose(f);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    std::size_t ran = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path root(argv[i]);
        if (!fs::exists(root)) {
            std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
            return 2;
        }
        for (const auto& path : inputs_under(root)) {
            std::vector<char> bytes;
            if (!read_file(path, bytes)) {
                std::fprintf(stderr, "%s: cannot read\n", path.c_str());
                return 2;
            }
            std::printf("replay %s (%zu bytes)\n", path.c_str(), bytes.size());
            std::fflush(stdout);
            elector_fuzz_one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
            ++ran;
        }
    }
    std::printf("replayed %zu inputs: no property broken\n", ran);
    return 0;
}
