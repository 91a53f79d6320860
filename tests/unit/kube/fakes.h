#pragma once
// Hermetic stand-ins for the kube module's tests: a clock moved by hand and a scripted transport.
#include <deque>
#include <string>
#include <vector>

#include "core/clock.h"
#include "kube/client.h"

namespace reaper::kube::test {

class FakeClock final : public core::Clock {
 public:
  core::SteadyTime now() const override { return steady_; }
  core::WallTime wallNow() const override { return wall_; }
  void sleepFor(core::Duration d) override { advance(d); }
  void advance(core::Duration d) {
    steady_ += d;
    wall_ += d;
  }

 private:
  core::SteadyTime steady_{std::chrono::hours(1)};
  core::WallTime wall_{std::chrono::seconds(1795003200)};  // 2026-11-18T12:00:00Z
};

// Replies from a script, in order; with no script left it answers `fallback` (default: no reply).
class FakeTransport final : public ApiTransport {
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
