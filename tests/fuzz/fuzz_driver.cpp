// Runs a libFuzzer harness without libFuzzer (GCC builds), with the part of libFuzzer's command
// line that ctest passes: `-runs=N` and corpus directories (other flags are ignored). Every file of
// the corpora runs as is, then N deterministic byte-level mutations of them. A crash or an escaping
// exception fails the test.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> readCorpus(const std::filesystem::path& dir) {
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

std::string mutate(std::string input, std::mt19937& rng) {
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < edits; ++i) {
    size_t pos = input.empty() ? 0 : rng() % input.size();
    switch (rng() % 4) {
      case 0:
        if (!input.empty()) input[pos] = static_cast<char>(rng());
        break;
      case 1:
        input.insert(pos, 1, "()\0:\n =-[]'\"{}\\"[rng() % 15]);
        break;
      case 2:
        if (!input.empty()) input.erase(pos, 1 + rng() % 4);
        break;
      default:
        input = input.substr(0, pos);
        break;
    }
  }
  return input;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  constexpr std::string_view kRuns = "-runs=";
  int iterations = 0;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with(kRuns)) {
      iterations = std::stoi(std::string(arg.substr(kRuns.size())));
    } else if (!arg.starts_with("-")) {
      for (auto& input : readCorpus(arg)) seeds.push_back(std::move(input));
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  std::mt19937 rng(20240601);
  for (const auto& seed : seeds) run(seed);
  for (int i = 0; i < iterations; ++i) run(mutate(seeds[rng() % seeds.size()], rng));
  return 0;
}
