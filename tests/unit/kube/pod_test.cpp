#include "kube/pod.h"

#include <gtest/gtest.h>

namespace reaper::kube {
namespace {

// A KubernetesExecutor worker pod as Airflow 2.9 creates it (labels shortened/hashed by
// make_safe_label_value, the TI in annotations), as the API returns it once running.
constexpr std::string_view kExecutorPod = R"json({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {
    "name": "example-bash-operator-run-this-last-x7k2p9qa",
    "namespace": "airflow",
    "uid": "0f6b3c1e-2a4d-4e5f-9a8b-7c6d5e4f3a2b",
    "resourceVersion": "184467",
    "labels": {
      "airflow-worker": "42", "airflow_version": "2.9.3", "kubernetes_executor": "True",
      "dag_id": "example_bash_operator", "task_id": "run_this_last", "try_number": "2",
      "run_id": "manual__2024-06-01T120000.0000000000-4b2c71e8e"
    },
    "annotations": {
      "dag_id": "example_bash_operator", "task_id": "run_this_last", "try_number": "2",
      "run_id": "manual__2024-06-01T12:00:00.123456+00:00"
    }
  },
  "spec": {"nodeName": "worker-3", "containers": [{"name": "base", "image": "apache/airflow:2.9.3"}]},
  "status": {
    "phase": "Running", "qosClass": "Burstable",
    "containerStatuses": [{
      "name": "base", "ready": true, "restartCount": 0,
      "containerID": "containerd://4b8c2f0e9d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
      "state": {"running": {"startedAt": "2024-06-01T12:00:05Z"}}
    }],
    "initContainerStatuses": [{"name": "git-sync-init", "containerID": "cri-o://aa11"}]
  }
})json";

TEST(ParsePod, ReadsIdentityContainersAndMaps) {
  auto pod = parsePod(kExecutorPod);
  ASSERT_TRUE(pod) << pod.error().message;
  EXPECT_EQ(pod->ref, (core::PodRef{"airflow", "example-bash-operator-run-this-last-x7k2p9qa",
                                    "0f6b3c1e-2a4d-4e5f-9a8b-7c6d5e4f3a2b"}));
  EXPECT_EQ(pod->nodeName, "worker-3");
  EXPECT_EQ(pod->phase, "Running");
  EXPECT_EQ(pod->qosClass, "Burstable");
  EXPECT_EQ(pod->resourceVersion, "184467");
  ASSERT_EQ(pod->containers.size(), 2u);
  EXPECT_EQ(pod->containers[0], (Container{"git-sync-init", "aa11", "cri-o", false}));
  EXPECT_EQ(pod->containers[1].name, "base");
  EXPECT_EQ(pod->containers[1].runtime, "containerd");
  EXPECT_EQ(pod->containers[1].containerId,
            "4b8c2f0e9d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c");
}

TEST(ParsePod, KubernetesExecutorTaskInstanceComesFromAnnotations) {
  auto pod = parsePod(kExecutorPod);
  ASSERT_TRUE(pod);
  EXPECT_TRUE(pod->kubernetesExecutor());
  auto ti = pod->annotatedTaskInstance();
  ASSERT_TRUE(ti);
  EXPECT_EQ(*ti, (core::TaskInstanceKey{"example_bash_operator", "run_this_last",
                                        "manual__2024-06-01T12:00:00.123456+00:00", -1, 2}));
}

TEST(ParsePod, MappedTaskAnnotationAndMissingFields) {
  Pod pod;
  pod.annotations = {
      {"dag_id", "d"}, {"task_id", "t"}, {"run_id", "r"}, {"try_number", "1"}, {"map_index", "7"}};
  ASSERT_TRUE(pod.annotatedTaskInstance());
  EXPECT_EQ(pod.annotatedTaskInstance()->mapIndex, 7);
  pod.annotations["map_index"] = "seven";
  EXPECT_FALSE(pod.annotatedTaskInstance());
  pod.annotations.erase("map_index");
  pod.annotations["try_number"] = "0";
  EXPECT_FALSE(pod.annotatedTaskInstance());
  pod.annotations["try_number"] = "1";
  pod.annotations.erase("run_id");
  pod.labels["run_id"] = "r";
  EXPECT_FALSE(pod.annotatedTaskInstance()) << "labels are never a source of the TI";
}

TEST(ParsePod, KubernetesExecutorLabel) {
  Pod pod;
  EXPECT_FALSE(pod.kubernetesExecutor());
  pod.labels["kubernetes_executor"] = "False";
  EXPECT_FALSE(pod.kubernetesExecutor());
  pod.labels["kubernetes_executor"] = "true";
  EXPECT_TRUE(pod.kubernetesExecutor());
}

TEST(ParsePod, ContainerNotYetStartedHasEmptyId) {
  auto pod = parsePod(R"({"metadata":{"name":"p","namespace":"n","uid":"u"},
    "status":{"phase":"Pending","containerStatuses":[{"name":"c","state":{"waiting":{}}}]}})");
  ASSERT_TRUE(pod);
  ASSERT_EQ(pod->containers.size(), 1u);
  EXPECT_EQ(pod->containers[0].containerId, "");
  EXPECT_EQ(pod->nodeName, "");
}

TEST(ParsePod, RejectsGarbage) {
  for (std::string_view text : {"", "{", "[]", "null", R"({"metadata":{"name":"p"}})",
                                R"({"metadata":"x"})", R"({"metadata":{"name":7,"uid":"u"}})"}) {
    EXPECT_FALSE(parsePod(text)) << text;
  }
}

TEST(ParsePodList, ReadsItemsAndResourceVersion) {
  auto list = parsePodList(R"({"kind":"PodList","apiVersion":"v1",
    "metadata":{"resourceVersion":"9001"},
    "items":[{"metadata":{"name":"a","namespace":"n","uid":"u1"}},
             {"metadata":{"name":"b","namespace":"n","uid":"u2"}}]})");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(list->resourceVersion, "9001");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[1].ref.uid, "u2");
  EXPECT_FALSE(parsePodList(R"({"metadata":{},"items":{}})"));
  EXPECT_FALSE(parsePodList(R"({"items":[]})"));
}

TEST(ParseWatchLine, AddedModifiedDeleted) {
  auto added = parseWatchLine(
      R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"n","uid":"u","resourceVersion":"11"}}})");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->type, WatchEventType::Added);
  EXPECT_EQ(added->pod.ref.name, "a");
  EXPECT_EQ(added->resourceVersion, "11");
  auto deleted = parseWatchLine(
      R"({"type":"DELETED","object":{"metadata":{"name":"a","namespace":"n","uid":"u","resourceVersion":"12"}}})");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->type, WatchEventType::Deleted);
  auto modified = parseWatchLine(
      R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"n","uid":"u","resourceVersion":"13"}}})");
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->type, WatchEventType::Modified);
}

TEST(ParseWatchLine, Bookmark) {
  auto bookmark = parseWatchLine(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12345","annotations":{"k8s.io/initial-events-end":"true"}}}})");
  ASSERT_TRUE(bookmark) << bookmark.error().message;
  EXPECT_EQ(bookmark->type, WatchEventType::Bookmark);
  EXPECT_EQ(bookmark->resourceVersion, "12345");
  EXPECT_FALSE(parseWatchLine(R"({"type":"BOOKMARK","object":{"metadata":{}}})"));
}

TEST(ParseWatchLine, Error410Status) {
  auto error = parseWatchLine(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 100 (200)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->type, WatchEventType::Error);
  EXPECT_EQ(error->errorCode, 410);
  EXPECT_EQ(error->errorMessage, "too old resource version: 100 (200)");
}

TEST(ParseWatchLine, RejectsGarbage) {
  for (std::string_view line :
       {"", "garbage", R"({"type":"ADDED"})", R"({"type":"EXPLODED","object":{}})",
        R"({"type":"ADDED","object":{"metadata":{}}})", R"({"type":"ADDED","object":[1]})",
        R"({"type":"ADDED","object":{"metadata":{"name":"a","uid":"u"}})"}) {
    EXPECT_FALSE(parseWatchLine(line)) << line;
  }
}

}  // namespace
}  // namespace reaper::kube
