// YAML -> Config. yaml-cpp throws: every call into it stays inside this file, under one try block.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <set>

#include "config/config.h"
#include "config/validate.h"
#include "core/duration.h"

namespace reaper::config {
namespace {

// Reads the keys of one mapping into fields, remembering the first error and which keys it knew.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, std::optional<core::Error>& error)
      : node_(node), path_(std::move(path)), error_(error) {
    if (!node_.IsNull() && !node_.IsMap())
      fail(path_.empty() ? "(document)" : path_, "expected a mapping");
  }

  void string(const char* key, std::string& out) {
    if (auto value = scalar(key)) out = *value;
  }

  void choice(const char* key, std::string& out, std::initializer_list<std::string_view> allowed) {
    auto value = scalar(key);
    if (!value) return;
    if (std::find(allowed.begin(), allowed.end(), *value) == allowed.end())
      return fail(keyPath(key), "bad value '" + *value + "' (want " + join(allowed) + ")");
    out = *value;
  }

  void boolean(const char* key, bool& out) {
    auto value = scalar(key);
    if (!value) return;
    if (*value == "true")
      out = true;
    else if (*value == "false")
      out = false;
    else
      fail(keyPath(key), "expected true or false, got '" + *value + "'");
  }

  void integer(const char* key, int& out) {
    auto value = scalar(key);
    if (!value) return;
    size_t used = 0;
    try {
      int parsed = std::stoi(*value, &used);
      if (used == value->size()) {
        out = parsed;
        return;
      }
    } catch (const std::exception&) {
    }
    fail(keyPath(key), "expected an integer, got '" + *value + "'");
  }

  void duration(const char* key, core::Duration& out) {
    auto value = scalar(key);
    if (!value) return;
    auto parsed = core::parseDuration(*value);
    if (parsed.ok())
      out = *parsed;
    else
      fail(keyPath(key), parsed.error().message);
  }

  void stringList(const char* key, std::vector<std::string>& out) {
    auto node = lookup(key);
    if (!node) return;
    if (!node->IsSequence()) return fail(keyPath(key), "expected a list of strings");
    std::vector<std::string> items;
    for (const auto& item : *node) {
      if (!item.IsScalar()) return fail(keyPath(key), "expected a list of strings");
      items.push_back(item.Scalar());
    }
    out = std::move(items);
  }

  MapReader child(const char* key) {
    auto node = lookup(key);
    return MapReader(node ? *node : YAML::Node(), keyPath(key), error_);
  }

  // Reports the first key of this mapping that no reader asked for, or that appears twice (YAML
  // parsers disagree on which of the two wins).
  void rejectUnknownKeys() {
    if (!node_.IsMap()) return;
    std::set<std::string> seen;
    for (const auto& entry : node_) {
      const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
      if (!seen.insert(key).second) return fail(keyPath(key), "duplicate key");
      if (!known_.contains(key)) return fail(keyPath(key), "unknown key");
    }
  }

 private:
  // The value under `key`, or nullopt when absent. A null value (`key:`, `~`, `null`) is an
  // error: it reads as "unset" to one reader and as "empty" to another; leave the key out instead.
  std::optional<YAML::Node> lookup(const std::string& key) {
    known_.insert(key);
    if (!node_.IsMap()) return std::nullopt;
    const YAML::Node& map = node_;  // const: a lookup must not add the key
    YAML::Node value = map[key];
    if (!value.IsDefined()) return std::nullopt;
    if (value.IsNull()) {
      fail(keyPath(key), "has no value (null); remove the key for its default");
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::string> scalar(const std::string& key) {
    auto node = lookup(key);
    if (!node) return std::nullopt;
    if (!node->IsScalar()) {
      fail(keyPath(key),
           "expected a single value, got a " + std::string(node->IsMap() ? "mapping" : "list"));
      return std::nullopt;
    }
    return node->Scalar();
  }

  std::string keyPath(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  void fail(const std::string& where, const std::string& what) {
    if (!error_) error_ = core::makeError(where + ": " + what);
  }

  static std::string join(std::initializer_list<std::string_view> words) {
    std::string out;
    for (auto word : words) out += (out.empty() ? "" : " | ") + std::string(word);
    return out;
  }

  YAML::Node node_;
  std::string path_;
  std::optional<core::Error>& error_;
  std::set<std::string> known_;
};

void readAirflow(MapReader map, AirflowConfig& out) {
  map.string("baseUrl", out.baseUrl);
  map.choice("apiVersion", out.apiVersion, {"auto", "v1", "v2"});
  MapReader auth = map.child("auth");
  auth.choice("type", out.auth.type, {"none", "basic", "jwt", "bearer"});
  auth.string("username", out.auth.username);
  auth.string("passwordFile", out.auth.passwordFile);
  auth.string("tokenFile", out.auth.tokenFile);
  auth.rejectUnknownKeys();
  map.string("caFile", out.caFile);
  map.boolean("insecureSkipVerify", out.insecureSkipVerify);
  map.duration("timeout", out.timeout);
  map.integer("pageSize", out.pageSize);
  map.rejectUnknownKeys();
}

void readKill(MapReader map, KillConfig& out) {
  map.duration("gracePeriod", out.gracePeriod);
  map.choice("onMissingTaskInstance", out.onMissingTaskInstance, {"keep", "kill"});
  map.rejectUnknownKeys();
}

void readKubernetes(MapReader map, KubernetesConfig& out) {
  map.string("apiServer", out.apiServer);
  map.string("tokenFile", out.tokenFile);
  map.string("caFile", out.caFile);
  map.boolean("insecureSkipVerify", out.insecureSkipVerify);
  map.stringList("namespaces", out.namespaces);
  map.boolean("events", out.events);
  map.boolean("taskTrees", out.taskTrees);
  map.boolean("nodeReport", out.nodeReport);
  map.duration("treeRetention", out.treeRetention);
  map.rejectUnknownKeys();
}

void readTop(MapReader map, Config& out) {
  std::string mode(modeName(out.mode));
  map.choice("mode", mode, {"kubernetes", "host"});
  out.mode = mode == "host" ? Mode::Host : Mode::Kubernetes;
  map.string("nodeName", out.nodeName);
  map.string("hostRoot", out.hostRoot);
  map.string("procRoot", out.procRoot);
  map.string("cgroupRoot", out.cgroupRoot);
  map.duration("pollInterval", out.pollInterval);
  map.duration("startupGrace", out.startupGrace);
  map.boolean("dryRun", out.dryRun);
  readAirflow(map.child("airflow"), out.airflow);
  readKill(map.child("kill"), out.kill);
  readKubernetes(map.child("kubernetes"), out.kubernetes);
  MapReader server = map.child("server");
  server.string("bindAddress", out.server.bindAddress);
  server.rejectUnknownKeys();
  map.choice("logLevel", out.logLevel, {"trace", "debug", "info", "warn", "error"});
  map.choice("logFormat", out.logFormat, {"text", "json"});
  map.rejectUnknownKeys();
}

}  // namespace

std::string_view modeName(Mode mode) { return mode == Mode::Host ? "host" : "kubernetes"; }

core::Result<Config> parseConfig(std::string_view yaml) {
  Config config;
  std::optional<core::Error> error;
  try {
    readTop(MapReader(YAML::Load(std::string(yaml)), "", error), config);
  } catch (const YAML::Exception& e) {
    return core::makeError("invalid YAML: " + std::string(e.what()));
  }
  if (error) return *error;
  if (auto valid = validateFile(config); !valid.ok()) return valid.error();
  return config;
}

}  // namespace reaper::config
