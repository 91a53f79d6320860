#pragma once
// Pods as the agent needs them, parsed from the API's JSON (a Pod, a PodList, one watch line).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace reaper::kube {

struct Container {
  std::string name;
  std::string containerId;  // without the `containerd://` prefix; empty until the container started
  std::string runtime;      // "containerd", "cri-o", "docker"
  // The API never lists the sandbox (pause) container; cgroup discovery marks it.
  bool isSandbox = false;
  bool operator==(const Container&) const = default;
};

struct Pod {
  core::PodRef ref;
  std::string nodeName, phase, qosClass;
  std::map<std::string, std::string> labels, annotations;
  std::vector<Container> containers;  // init, regular and ephemeral containers with a status
  std::string resourceVersion;

  // Airflow's KubernetesExecutor (2.x and 3.x) labels its worker pods `kubernetes_executor:
  // "True"`.
  bool kubernetesExecutor() const;
  // The TaskInstance a KubernetesExecutor pod runs, from its annotations (labels are shortened and
  // hashed, so never from them). nullopt when dag_id, task_id, run_id or try_number is missing or
  // malformed; map_index is absent for unmapped tasks (-1).
  std::optional<core::TaskInstanceKey> annotatedTaskInstance() const;
};

struct PodList {
  std::vector<Pod> items;
  std::string resourceVersion;
};

enum class WatchEventType { Added, Modified, Deleted, Bookmark, Error };

struct WatchEvent {
  WatchEventType type = WatchEventType::Error;
  Pod pod;                      // Added, Modified, Deleted
  std::string resourceVersion;  // every type but Error
  int errorCode = 0;            // Error: the Status code (410: resourceVersion too old)
  std::string errorMessage;
};

core::Result<Pod> parsePod(std::string_view json);
core::Result<PodList> parsePodList(std::string_view json);
// One line of a watch stream: `{"type": ..., "object": ...}`.
core::Result<WatchEvent> parseWatchLine(std::string_view line);

}  // namespace reaper::kube
