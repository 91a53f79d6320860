#include "kube/pod.h"

#include <charconv>

#include "core/json.h"

namespace reaper::kube {
namespace {

using core::Json;

std::string stringAt(const Json& object, const char* key) {
  return object.field(key).string().value_or("");
}

std::map<std::string, std::string> stringMapAt(const Json& object, const char* key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : object.field(key).members()) {
    if (auto text = v.string()) out[k] = std::move(*text);
  }
  return out;
}

Container parseContainerStatus(const Json& status) {
  Container c;
  c.name = stringAt(status, "name");
  std::string id = stringAt(status, "containerID");
  size_t sep = id.find("://");
  if (sep != std::string::npos) {
    c.runtime = id.substr(0, sep);
    c.containerId = id.substr(sep + 3);
  } else {
    c.containerId = id;
  }
  return c;
}

void appendContainers(const Json& status, const char* key, std::vector<Container>& out) {
  for (const Json& item : status.field(key).items()) {
    if (item.isObject()) out.push_back(parseContainerStatus(item));
  }
}

core::Result<Pod> podFromValue(const Json& object) {
  const Json& metadata = object.field("metadata");
  if (!metadata.isObject()) return core::makeError("pod without metadata");
  Pod pod;
  pod.ref = {stringAt(metadata, "namespace"), stringAt(metadata, "name"),
             stringAt(metadata, "uid")};
  if (pod.ref.name.empty() || pod.ref.uid.empty())
    return core::makeError("pod without name or uid");
  pod.resourceVersion = stringAt(metadata, "resourceVersion");
  pod.labels = stringMapAt(metadata, "labels");
  pod.annotations = stringMapAt(metadata, "annotations");
  pod.nodeName = stringAt(object.field("spec"), "nodeName");
  const Json& status = object.field("status");
  pod.phase = stringAt(status, "phase");
  pod.qosClass = stringAt(status, "qosClass");
  appendContainers(status, "initContainerStatuses", pod.containers);
  appendContainers(status, "containerStatuses", pod.containers);
  appendContainers(status, "ephemeralContainerStatuses", pod.containers);
  return pod;
}

std::optional<int> parseInt(const std::string& text) {
  int out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return out;
}

core::Result<WatchEvent> watchEventFromValue(const Json& line) {
  static const std::map<std::string, WatchEventType> kTypes = {
      {"ADDED", WatchEventType::Added},
      {"MODIFIED", WatchEventType::Modified},
      {"DELETED", WatchEventType::Deleted},
      {"BOOKMARK", WatchEventType::Bookmark},
      {"ERROR", WatchEventType::Error}};
  auto type = kTypes.find(stringAt(line, "type"));
  const Json& object = line.field("object");
  if (type == kTypes.end() || !object.isObject()) return core::makeError("not a watch event");
  WatchEvent event;
  event.type = type->second;
  if (event.type == WatchEventType::Error) {
    const auto code = object.field("code").integer().value_or(0);
    event.errorCode = code >= 100 && code <= 999 ? static_cast<int>(code) : 0;
    event.errorMessage = stringAt(object, "message");
    return event;
  }
  if (event.type == WatchEventType::Bookmark) {
    event.resourceVersion = stringAt(object.field("metadata"), "resourceVersion");
    if (event.resourceVersion.empty()) return core::makeError("bookmark without resourceVersion");
    return event;
  }
  auto pod = podFromValue(object);
  if (!pod) return pod.error();
  event.pod = std::move(*pod);
  event.resourceVersion = event.pod.resourceVersion;
  return event;
}

}  // namespace

bool Pod::kubernetesExecutor() const {
  auto it = labels.find("kubernetes_executor");
  return it != labels.end() && (it->second == "True" || it->second == "true");
}

std::optional<core::TaskInstanceKey> Pod::annotatedTaskInstance() const {
  auto get = [this](const char* key) -> std::optional<std::string> {
    auto it = annotations.find(key);
    if (it == annotations.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  auto dag = get("dag_id"), task = get("task_id"), run = get("run_id"), tryText = get("try_number");
  if (!dag || !task || !run || !tryText) return std::nullopt;
  auto tryNumber = parseInt(*tryText);
  if (!tryNumber || *tryNumber < 1) return std::nullopt;
  int mapIndex = -1;
  if (auto mapText = get("map_index")) {
    auto parsed = parseInt(*mapText);
    if (!parsed || *parsed < -1) return std::nullopt;
    mapIndex = *parsed;
  }
  return core::TaskInstanceKey{*dag, *task, *run, mapIndex, *tryNumber};
}

core::Result<Pod> parsePod(std::string_view json) {
  auto parsed = Json::parse(json);
  if (!parsed) return parsed.error();
  return podFromValue(*parsed);
}

core::Result<PodList> parsePodList(std::string_view json) {
  auto parsed = Json::parse(json);
  if (!parsed) return parsed.error();
  const Json& metadata = parsed->field("metadata");
  if (!metadata.isObject() || !parsed->field("items").isArray()) {
    return core::makeError("not a list");
  }
  PodList list;
  list.resourceVersion = stringAt(metadata, "resourceVersion");
  for (const Json& item : parsed->field("items").items()) {
    auto pod = podFromValue(item);
    if (!pod) return pod.error();
    list.items.push_back(std::move(*pod));
  }
  return list;
}

core::Result<WatchEvent> parseWatchLine(std::string_view line) {
  auto parsed = Json::parse(line);
  if (!parsed) return parsed.error();
  return watchEventFromValue(*parsed);
}

}  // namespace reaper::kube
