#include "kube/pod.h"

#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <cpprest/json.h>

#include <charconv>

namespace reaper::kube {
namespace {

using web::json::value;

std::string stringAt(const value& object, const char* key) {
  if (!object.is_object() || !object.has_field(key)) return "";
  const value& field = object.at(key);
  return field.is_string() ? field.as_string() : "";
}

const value* objectAt(const value& object, const char* key) {
  if (!object.is_object() || !object.has_field(key)) return nullptr;
  const value& field = object.at(key);
  return field.is_object() ? &field : nullptr;
}

std::map<std::string, std::string> stringMapAt(const value& object, const char* key) {
  std::map<std::string, std::string> out;
  const value* map = objectAt(object, key);
  if (map == nullptr) return out;
  for (const auto& [k, v] : map->as_object()) {
    if (v.is_string()) out[k] = v.as_string();
  }
  return out;
}

Container parseContainerStatus(const value& status) {
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

void appendContainers(const value& status, const char* key, std::vector<Container>& out) {
  if (!status.has_field(key) || !status.at(key).is_array()) return;
  for (const value& item : status.at(key).as_array()) {
    if (item.is_object()) out.push_back(parseContainerStatus(item));
  }
}

core::Result<Pod> podFromValue(const value& object) {
  const value* metadata = objectAt(object, "metadata");
  if (metadata == nullptr) return core::makeError("pod without metadata");
  Pod pod;
  pod.ref = {stringAt(*metadata, "namespace"), stringAt(*metadata, "name"),
             stringAt(*metadata, "uid")};
  if (pod.ref.name.empty() || pod.ref.uid.empty())
    return core::makeError("pod without name or uid");
  pod.resourceVersion = stringAt(*metadata, "resourceVersion");
  pod.labels = stringMapAt(*metadata, "labels");
  pod.annotations = stringMapAt(*metadata, "annotations");
  if (const value* spec = objectAt(object, "spec")) pod.nodeName = stringAt(*spec, "nodeName");
  if (const value* status = objectAt(object, "status")) {
    pod.phase = stringAt(*status, "phase");
    pod.qosClass = stringAt(*status, "qosClass");
    appendContainers(*status, "initContainerStatuses", pod.containers);
    appendContainers(*status, "containerStatuses", pod.containers);
    appendContainers(*status, "ephemeralContainerStatuses", pod.containers);
  }
  return pod;
}

core::Result<value> parseJson(std::string_view json) {
  try {
    return value::parse(std::string(json));
  } catch (const std::exception& e) {
    return core::makeError(std::string("invalid JSON: ") + e.what());
  }
}

std::optional<int> parseInt(const std::string& text) {
  int out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return out;
}

core::Result<WatchEvent> watchEventFromValue(const value& line) {
  static const std::map<std::string, WatchEventType> kTypes = {
      {"ADDED", WatchEventType::Added},
      {"MODIFIED", WatchEventType::Modified},
      {"DELETED", WatchEventType::Deleted},
      {"BOOKMARK", WatchEventType::Bookmark},
      {"ERROR", WatchEventType::Error}};
  auto type = kTypes.find(stringAt(line, "type"));
  const value* object = objectAt(line, "object");
  if (type == kTypes.end() || object == nullptr) return core::makeError("not a watch event");
  WatchEvent event;
  event.type = type->second;
  if (event.type == WatchEventType::Error) {
    const value& code = object->has_field("code") ? object->at("code") : value();
    event.errorCode = code.is_integer() ? code.as_integer() : 0;
    event.errorMessage = stringAt(*object, "message");
    return event;
  }
  if (event.type == WatchEventType::Bookmark) {
    const value* metadata = objectAt(*object, "metadata");
    event.resourceVersion = metadata ? stringAt(*metadata, "resourceVersion") : "";
    if (event.resourceVersion.empty()) return core::makeError("bookmark without resourceVersion");
    return event;
  }
  auto pod = podFromValue(*object);
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
  auto parsed = parseJson(json);
  if (!parsed) return parsed.error();
  try {
    return podFromValue(*parsed);
  } catch (const std::exception& e) {
    return core::makeError(std::string("malformed pod: ") + e.what());
  }
}

core::Result<PodList> parsePodList(std::string_view json) {
  auto parsed = parseJson(json);
  if (!parsed) return parsed.error();
  try {
    const value* metadata = objectAt(*parsed, "metadata");
    if (metadata == nullptr || !parsed->has_field("items") || !parsed->at("items").is_array()) {
      return core::makeError("not a list");
    }
    PodList list;
    list.resourceVersion = stringAt(*metadata, "resourceVersion");
    for (const value& item : parsed->at("items").as_array()) {
      auto pod = podFromValue(item);
      if (!pod) return pod.error();
      list.items.push_back(std::move(*pod));
    }
    return list;
  } catch (const std::exception& e) {
    return core::makeError(std::string("malformed pod list: ") + e.what());
  }
}

core::Result<WatchEvent> parseWatchLine(std::string_view line) {
  auto parsed = parseJson(line);
  if (!parsed) return parsed.error();
  try {
    return watchEventFromValue(*parsed);
  } catch (const std::exception& e) {
    return core::makeError(std::string("malformed watch event: ") + e.what());
  }
}

}  // namespace reaper::kube
