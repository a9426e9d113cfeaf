// A main() for the fuzz targets in builds without libFuzzer: runs
// LLVMFuzzerTestOneInput once over every file of the corpus directories (or files)
// named on the command line, so the ordinary build replays the corpus on every test
// run. A check that fails aborts, which fails the test. A missing or empty corpus is a
// failure too: a replay over nothing would pass without testing anything.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

bool collect(const fs::path& arg, std::vector<fs::path>& files) {
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) {
        files.push_back(arg);
        return true;
    }
    if (!fs::is_directory(arg, ec)) {
        std::fprintf(stderr, "corpus %s does not exist\n", arg.c_str());
        return false;
    }
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
    }
    if (ec || found.empty()) {
        std::fprintf(stderr, "corpus %s holds no files\n", arg.c_str());
        return false;
    }
    // A fixed order, so that a failure reproduces the same way on every run.
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        if (!collect(argv[i], files)) return 1;
    }
    for (const fs::path& file : files) {
        std::ifstream f(file, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (!f.good() && !f.eof()) {
            std::fprintf(stderr, "cannot read %s\n", file.c_str());
            return 1;
        }
        // Named before it runs, so that a crash points at its input.
        std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
        // An allocation of exactly the input's size, as libFuzzer passes it, so that a
        // sanitizer build catches a read past the end here too.
        std::unique_ptr<std::uint8_t[]> data(new std::uint8_t[bytes.size()]);
        std::copy(bytes.begin(), bytes.end(), data.get());
        LLVMFuzzerTestOneInput(data.get(), bytes.size());
    }
    std::fprintf(stderr, "replayed %zu inputs\n", files.size());
    return 0;
}
