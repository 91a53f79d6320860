#pragma once
// What the rest of the agent asks Airflow: the current state of TaskInstances, and (Airflow 3)
// which TaskInstance a `airflow worker -- <uuid>` process runs.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"

namespace reaper::airflow {

// Missing: the API says 404 / the TI is not in a complete reply. Unknown: could not tell.
enum class Lookup { Found, Missing, Unknown };

// One map index of a mapped TaskInstance, as a complete listing showed it.
struct MapIndexState {
  int mapIndex = -1;
  std::optional<std::string> state;  // nullopt = no state (cleared)
  int tryNumber = 0;
  bool operator==(const MapIndexState&) const = default;
};

struct TaskInstanceStatus {
  Lookup lookup = Lookup::Unknown;
  std::optional<std::string> state;  // nullopt = TI has no state (cleared)
  int tryNumber = 0;
  std::string uuid;
  // When the current try was queued (`queued_when`): its processes start after it (the try rule).
  std::optional<core::WallTime> queuedWhen;
  // The process Airflow recorded running the current try (in the worker's PID namespace).
  std::optional<int64_t> pid;
  // The key's map index is unknown (-1) and the task is mapped: lookup is Found, state is nullopt
  // and this lists every map index of the TaskInstance (the candidates); empty otherwise.
  std::vector<MapIndexState> mapIndexes;
  std::string detail;  // why Unknown/Missing, for logs
};

class TaskInstanceSource {
 public:
  virtual ~TaskInstanceSource() = default;
  // Current state of each TaskInstance (key.tryNumber is ignored for matching: the reply's
  // try_number is the TI's current try). One entry per input key.
  virtual std::map<core::TaskInstanceKey, TaskInstanceStatus> fetchStates(
      const std::vector<core::TaskInstanceKey>& keys) = 0;
  // Airflow 3 only: TI uuid (title `airflow worker -- <uuid>`) -> key incl. try_number; unresolved
  // uuids omitted.
  virtual std::map<std::string, core::TaskInstanceKey> resolveUuids(
      const std::vector<std::string>& uuids) = 0;
  // Checks that the API answers (detects its version); an error says why.
  virtual core::Status probe() = 0;
};

struct ClientOptions {
  std::string baseUrl;
  std::string apiVersion = "auto";  // auto | v1 | v2
  std::string authType = "none";    // none | basic | jwt | bearer
  std::string username, passwordFile, tokenFile, caFile;
  bool insecureSkipVerify = false;
  core::Duration timeout{5000};
  int pageSize = 100;
  int maxAttempts = 3;
  core::Duration backoffBase{200};
};

// Called once per HTTP request: status code (0 = transport error or timeout) and its duration.
using RequestObserver = std::function<void(int httpCode, double seconds)>;

// Validates options (e.g. unreadable passwordFile => error naming the key). Detection of v1/v2
// happens lazily, on the first request.
core::Result<std::unique_ptr<TaskInstanceSource>> makeRestClient(const ClientOptions& options,
                                                                 core::Clock& clock,
                                                                 RequestObserver observer);

}  // namespace reaper::airflow
