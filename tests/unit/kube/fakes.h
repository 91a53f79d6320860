#pragma once
// Hermetic stand-ins for the kube module's tests: the shared fake clock and a scripted transport.
#include <deque>
#include <string>
#include <vector>

#include "core/clock.h"
#include "kube/client.h"
#include "support/fake_clock.h"

namespace reaper::kube::test {

using FakeClock = ::reaper::test::FakeClock;

// Replies from a script, in order; with no script left it answers `fallback` (default: no reply).
class FakeTransport final : public HttpTransport {
 public:
  struct Reply {
    core::Result<HttpResponse> response = core::makeError("unreachable");
    std::vector<std::string> lines;  // stream(): delivered before `response`
  };

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(request);
    if (outlivingLog != nullptr) outlivingLog->push_back(request);
    return next().response;
  }

  core::Result<HttpResponse> stream(const HttpRequest& request,
                                    const std::function<bool(std::string_view)>& onLine) override {
    requests.push_back(request);
    Reply reply = next();
    for (const auto& line : reply.lines) {
      if (!onLine(line)) break;
    }
    return reply.response;
  }

  void cancel() override {}

  void reply(int code, std::string body = "", std::vector<std::string> lines = {}) {
    script.push_back({HttpResponse{code, std::move(body)}, std::move(lines)});
  }
  void fail() { script.push_back({}); }

  std::deque<Reply> script;
  Reply fallback;
  std::vector<HttpRequest> requests;
  std::vector<HttpRequest>* outlivingLog = nullptr;  // also sent here: outlives the transport

 private:
  Reply next() {
    if (script.empty()) return fallback;
    Reply reply = script.front();
    script.pop_front();
    return reply;
  }
};

}  // namespace reaper::kube::test
