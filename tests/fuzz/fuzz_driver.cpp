// Runs a libFuzzer harness without libFuzzer (GCC builds): seed inputs and deterministic
// byte-level mutations of them. A crash or an escaping exception fails the test.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using namespace std::string_literals;

const std::vector<std::string> kSeeds = {
    "4321 (a) (b) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 10\n",
    "Name:\tpython\nTgid:\t7\nUid:\t0\t0\t0\t0\nNSpid:\t7\t1\nKthread:\t0\n",
    "AIRFLOW_CTX_DAG_ID=d\0AIRFLOW_CTX_TASK_ID=t\0AIRFLOW_CTX_DAG_RUN_ID=r\0"
    "AIRFLOW_CTX_TRY_NUMBER=1\0AIRFLOW_CTX_MAP_INDEX=2\0"s,
    "12:pids:/kubepods/pod1/c1\n0::/../../kubepods.slice/x.scope\n",
    "airflow\0tasks\0run\0d\0t\0r\0--map-index\0003\0--local\0"s,
    "airflow task supervisor: ['airflow', 'tasks', 'run', 'd', 't', 'r']\0"s,
    "airflow worker -- 0194c2e1-8f5a-7b3c-9d2e-1f0a2b3c4d5e\0\0"s,
    "python\0-m\0airflow.sdk.execution_time.execute_workload\0--json-string\0"
    "{\"ti\":{\"id\":\"x\",\"dag_id\":\"d\",\"task_id\":\"t\",\"run_id\":\"r\",\"try_number\":1}}"s,
    "{\"ti\":{\"id\":\"x\",\"dag_id\":\"d\",\"task_id\":\"t\",\"run_id\":\"r\",\"try_number\":1}}",
};

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

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::stoi(argv[1]) : 20000;
  std::mt19937 rng(20240601);
  for (const auto& seed : kSeeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
  }
  for (int i = 0; i < iterations; ++i) {
    std::string input = mutate(kSeeds[rng() % kSeeds.size()], rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  return 0;
}
