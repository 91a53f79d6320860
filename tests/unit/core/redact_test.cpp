#include "core/redact.h"

#include <gtest/gtest.h>

namespace reaper::core {
namespace {

struct Shape {
  const char* name;
  std::string input;  // a command line, arguments joined by spaces
  std::string expected;
};

// Every shape of secret seen on a task runner's command line, and lines that must stay as they are.
const Shape kShapes[] = {
    {"mysql attached -p", "mysql -pSECRET db", "mysql -p*** db"},
    {"-p with quoted value", "mysql -p'my SECRET' db", "mysql -p'***' db"},
    {"sshpass -p", "sshpass -p SECRET ssh host", "sshpass -p *** ssh host"},
    {"sshpass attached", "sshpass -pSECRET ssh host", "sshpass -p*** ssh host"},
    {"short -p hides too much", "mkdir -p /tmp/x", "mkdir -p ***"},
    {"find predicates stay", "find /tmp -path x -print0 -prune",
     "find /tmp -path x -print0 -prune"},
    {"--password=", "dbt --password=SECRET run", "dbt --password=*** run"},
    {"--password value", "dbt --password SECRET run", "dbt --password *** run"},
    {"--api-key value", "tool --api-key SECRET", "tool --api-key ***"},
    {"openssl -pass", "openssl enc -pass pass:SECRET -in x", "openssl enc -pass *** -in x"},
    {"curl -H bearer (argv)", "curl -H Authorization: Bearer SECRET https://h/x",
     "curl -H Authorization: Bearer *** https://h/x"},
    {"curl -H bearer (script)", "bash -c curl -H 'Authorization: Bearer SECRET' https://h/x",
     "bash -c curl -H 'Authorization: Bearer ***' https://h/x"},
    {"basic auth header", "curl -H Authorization:Basic dXNlcjpTRUNSRVQ= h",
     "curl -H Authorization:Basic *** h"},
    {"curl -u", "curl -u admin:SECRET https://h", "curl -u admin:*** https://h"},
    {"--header=X-API-Key:", "curl --header=X-API-Key: SECRET https://h",
     "curl --header=X-API-Key: *** https://h"},
    {"bare JWT", "client eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl x", "client *** x"},
    {"bare GitHub token", "echo ghp_abcdefghijklmnopqrstuvwxyz0123", "echo ***"},
    {"JSON authorization", R"({"Authorization": "Bearer SECRET"})", R"({"Authorization": "***"})"},
    {"scheme without credential", "curl -H Authorization: Bearer", "curl -H Authorization: ***"},
    {"JSON token", R"(x {"token": "SECRET", "ti": {"dag_id": "d"}})",
     R"(x {"token": "***", "ti": {"dag_id": "d"}})"},
    {"JSON pass", R"({"pass": "SECRET"})", R"({"pass": "***"})"},
    {"JSON escaped quote", R"({"token":"SEC\"RET","ti":1})", R"({"token":"***","ti":1})"},
    {"JSON number", R"({"api_key": 12345, "n": 1})", R"({"api_key": ***, "n": 1})"},
    {"JSON nested object", R"({"credentials": {"user": "u", "password": "p"}, "x": 1})",
     R"({"credentials": ***, "x": 1})"},
    {"JSON unterminated (cut)", R"(--json-string {"token": "eyJhbGc)",
     R"(--json-string {"token": "***)"},
    {"shell-escaped JSON", R"(sh -c "run {\"token\": \"SEC\\\"RET\", \"x\": 1}")",
     R"(sh -c "run {\"token\": \"***\", \"x\": 1}")"},
    {"python dict repr", R"({'password': 'SECRET', 'user': 'u'})",
     R"({'password': '***', 'user': 'u'})"},
    {"python repr escaped quote", R"({'password': 'it\'s', 'user': 'u'})",
     R"({'password': '***', 'user': 'u'})"},
    {"python keyword", "connect(password = 'SECRET')", "connect(password = '***')"},
    {"yaml-style", "api_key: SECRET other", "api_key: *** other"},
    {"yaml flow mapping", "{password: SECRET, user: u}", "{password: ***, user: u}"},
    {"env assignment", "DB_PASS=SECRET run", "DB_PASS=*** run"},
    {"aws env", "export AWS_SECRET_ACCESS_KEY=SECRET", "export AWS_SECRET_ACCESS_KEY=***"},
    {"libpq", "psql host=db user=u password=SECRET dbname=x",
     "psql host=db user=u password=*** dbname=x"},
    {"odbc", "isql Server=db;Uid=u;Pwd=SECRET;", "isql Server=db;Uid=u;Pwd=***"},
    {"url query", "curl https://h/cb?code=1&access_token=SECRET",
     "curl https://h/cb?code=1&access_token=***"},
    {"url userinfo", "dbt --target postgresql://admin:SECRET@db:5432/x",
     "dbt --target postgresql://***@db:5432/x"},
    {"url password with @ and /", "x mysql://u:p@ss/w0rd@db/x", "x mysql://***@db/x"},
    {"url password only", "x redis://:SECRET@redis:6379/0", "x redis://***@redis:6379/0"},
    {"celery broker", "celery --broker amqp://guest:SECRET@rabbit//",
     "celery --broker amqp://***@rabbit//"},
    {"url in JSON", R"({"conn": "postgres://u:SECRET@h/db"})",
     R"({"conn": "postgres://***@h/db"})"},
    {"AIRFLOW_CONN_ uri", "AIRFLOW_CONN_PG=postgres://u:SECRET@h/db run",
     "AIRFLOW_CONN_PG=*** run"},
    {"AIRFLOW_CONN_ json", R"(AIRFLOW_CONN_X='{"conn_type": "http"}' run)",
     "AIRFLOW_CONN_X='***' run"},
    {"KubernetesExecutor workload",
     R"(python -m airflow.sdk.execution_time.execute_workload --json-string {"token":"eyJhbGciOi.eyJzdWIi.c2ln","ti":{"id":"0193","task_id":"t","dag_id":"d","run_id":"r","try_number":1,"map_index":-1},"dag_rel_path":"d.py","type":"ExecuteTask"})",
     R"(python -m airflow.sdk.execution_time.execute_workload --json-string {"token":"***","ti":{"id":"0193","task_id":"t","dag_id":"d","run_id":"r","try_number":1,"map_index":-1},"dag_rel_path":"d.py","type":"ExecuteTask"})"},
    {"airflow 2 task runner",
     "airflow tasks run my_dag my_task manual__2024-01-01T00:00:00+00:00 --local --map-index 3 "
     "--subdir DAGS_FOLDER/x.py",
     "airflow tasks run my_dag my_task manual__2024-01-01T00:00:00+00:00 --local --map-index 3 "
     "--subdir DAGS_FOLDER/x.py"},
    {"plain url", "curl https://example.com:8443/a?b=c", "curl https://example.com:8443/a?b=c"},
    {"name without a value", "echo password token", "echo password token"},
};

TEST(Redact, Shapes) {
  for (const auto& shape : kShapes)
    EXPECT_EQ(redactCommandLine(shape.input), shape.expected) << shape.name;
}

TEST(Redact, TruncatesAfterRedacting) {
  const std::string out = redactedCommandLine({"sleep", std::string(500, 'x')}, 40);
  EXPECT_EQ(out.size(), 40u);
  EXPECT_TRUE(out.ends_with("..."));
}

TEST(Redact, FlattensMultiLineScriptsToOneLine) {
  EXPECT_EQ(redactedCommandLine({"bash", "-c", "sleep 1 &\n\twait\n"}), "bash -c sleep 1 &  wait ");
}

TEST(Redact, OutputIsPrintable) {
  EXPECT_EQ(redactedCommandLine({"run", "d\xff\x1b[2J", "--password=\xfe"}),
            "run d\\xff [2J --password=***");
}

// The inputs that crashed the std::regex version (it recursed once per byte): no crash, no leak.
TEST(Redact, HugeArgumentsAreCappedNotFatal) {
  const std::string secret40k(40 * 1024, 'S');
  const std::string json20k = R"({"token": ")" + std::string(20 * 1024, 'S') + R"(", "x": 1})";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"python", "-c", std::string(40 * 1024, 'x')},
           {"python", "--json-string", json20k},
           {"tool", "--password", secret40k},
           {"tool", "--password=" + std::string(5 << 20, 'S')},
           {"tool", std::string(5 << 20, 'x') + " --password=" + secret40k},
       }) {
    const std::string out = redactedCommandLine(argv);
    EXPECT_LE(out.size(), kMaxRedactedInput + 3);
    EXPECT_EQ(out.find("SS"), std::string::npos) << out.substr(0, 200);
  }
}

// A secret the cap cuts in half must not leak its first half.
TEST(Redact, CapDropsThePartialLastWord) {
  const std::string head(kMaxRedactedInput - 20, 'x');
  for (const std::string& tail :
       {std::string(" --password=SSSSSSSSSSSSSSSSSSSSSSSSSSSSSS"),
        std::string(" postgres://SS:SSSSSSSSSSSSSSSSSSSSSSSSSSSS@h"),
        std::string(" eyJhbGciOi.SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS")}) {
    const std::string out = redactCommandLine(head + tail);
    EXPECT_EQ(out.find("SS"), std::string::npos) << tail;
    EXPECT_TRUE(out.ends_with("...")) << tail;
  }
}

// Inputs built to make a naive scanner quadratic or recurse deeply; each must simply finish.
TEST(Redact, AdversarialRepetitionsFinish) {
  const size_t n = kMaxRedactedInput;
  auto repeat = [&](std::string_view unit) {
    std::string s;
    while (s.size() < n) s += unit;
    return s;
  };
  for (const std::string& input :
       {repeat("a://"), repeat("password: Bearer "), repeat("{"), repeat("\\\""), repeat("token="),
        repeat("\"token\":"), repeat("-p"), repeat("eyJ."), repeat("@")}) {
    EXPECT_LE(redactCommandLine(input).size(), input.size() + 3);
  }
}

}  // namespace
}  // namespace reaper::core
