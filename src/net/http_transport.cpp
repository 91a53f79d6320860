// cpprestsdk adapter: the only file of the agent that talks HTTP. cpprestsdk throws; nothing
// leaves.
#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/log.h"
#include "net/base64.h"
#include "net/http.h"
#include "net/limits.h"

namespace reaper::net {
namespace {

namespace http = web::http;

core::Error tooLarge(const std::string& what, size_t maxBytes) {
  return core::makeError(what + " larger than " + std::to_string(maxBytes) + " bytes", EMSGSIZE);
}

// cpprestsdk reads a body of known length in pieces of at most this size and hands each to the
// sink through its thread pool (a continuation, a timer reset, a wake-up). A reply read whole takes
// one or a few pieces (an Airflow list page is ~100 KiB); no more than this waits in cpprestsdk's
// buffer beyond the caps. A stream keeps cpprestsdk's 64 KiB: its lines are passed on as they
// arrive, not once a larger piece filled up.
constexpr size_t kWholeReplyChunkBytes = 1 << 20;
constexpr size_t kStreamChunkBytes = 64 << 10;

// Thrown into cpprestsdk to end a transfer from inside the sink; the sink keeps why.
struct TransferEnded : std::exception {};

// Where cpprestsdk writes a reply's body, block by block as it reads them from the socket. It
// reads the next block only once this one was taken, so no more than the socket's buffers waits
// unread whatever the server sends: past a cap the transfer ends at once. The body is kept whole
// (up to kMaxReplyBytes) or, for a stream with a 2xx status, passed on line by line (each up to
// kMaxLineBytes) as soon as a line end arrives. Until the status is known it is held.
class BodySink final : public concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  enum class Mode { Undecided, Whole, Lines };
  enum class End { Complete, ByHandler, Failed };

  explicit BodySink(Mode mode, const LineHandler* onLine = nullptr)
      : streambuf_state_manager(std::ios_base::out), mode_(mode), onLine_(onLine) {}

  // Called once the status is known (Undecided only).
  void decide(Mode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    if (mode_ == Mode::Lines && !held_.empty()) {
      std::string held = std::move(held_);
      held_.clear();
      take(held);
    }
  }

  // The body once the transfer is over: the last line is passed on, the whole body returned.
  core::Result<std::string> finish() {
    std::lock_guard lock(mutex_);
    if (error_) return *error_;
    if (mode_ == Mode::Lines && end_ == End::Complete) deliver();
    return std::move(held_);
  }
  End end() const {
    std::lock_guard lock(mutex_);
    return end_;
  }
  std::optional<core::Error> error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  pplx::task<size_t> _putn(const uint8_t* ptr, size_t count) override {
    std::lock_guard lock(mutex_);
    if (end_ != End::Complete) return pplx::task_from_exception<size_t>(TransferEnded{});
    take({reinterpret_cast<const char*>(ptr), count});
    if (end_ != End::Complete) return pplx::task_from_exception<size_t>(TransferEnded{});
    return pplx::task_from_result(count);
  }

  // With mutex_ held.
  void take(std::string_view data) {
    if (mode_ != Mode::Lines) {
      if (held_.size() + data.size() > kMaxReplyBytes)
        return fail(tooLarge("reply", kMaxReplyBytes));
      held_.append(data);
      return;
    }
    for (size_t end; (end = data.find('\n')) != std::string_view::npos;
         data.remove_prefix(end + 1)) {
      if (held_.size() + end > kMaxLineBytes) return fail(tooLarge("line", kMaxLineBytes));
      held_.append(data.substr(0, end));
      if (!deliver()) {
        end_ = End::ByHandler;
        return;
      }
    }
    if (held_.size() + data.size() > kMaxLineBytes) return fail(tooLarge("line", kMaxLineBytes));
    held_.append(data);
  }

  // Passes the held line on; false when the handler wants no more.
  bool deliver() {
    if (!held_.empty() && held_.back() == '\r') held_.pop_back();
    const bool more = held_.empty() || (*onLine_)(held_);
    held_.clear();
    return more;
  }

  void fail(core::Error error) {
    error_ = std::move(error);
    end_ = End::Failed;
    held_.clear();
    held_.shrink_to_fit();
  }

  // cpprestsdk closes a sink that ended a transfer on the pool thread that wrote to it, and waits
  // there for the close; the base class's close finishes in a continuation on that same pool. Once
  // every pool thread waits so, nothing runs the continuations: a hang, seen with one pool thread
  // as soon as a watch line ended a stream. A sink has nothing to flush: it closes at once.
  using streambuf_state_manager::close;
  pplx::task<void> close(std::ios_base::openmode mode) override {
    if (mode & std::ios_base::in) m_stream_can_read = false;
    if (mode & std::ios_base::out) m_stream_can_write = false;
    return pplx::task_from_result();
  }

  // A sink is written to only.
  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return pos_type(traits::eof()); }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return pos_type(traits::eof()); }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return pos_type(traits::eof());
  }
  bool acquire(uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(uint8_t*, size_t) override {}
  pplx::task<int_type> _putc(uint8_t c) override {
    return _putn(&c, 1).then([c](size_t) { return static_cast<int_type>(c); });
  }
  pplx::task<int_type> _bumpc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sbumpc() override { return traits::eof(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sgetc() override { return traits::eof(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<size_t> _getn(uint8_t*, size_t) override { return pplx::task_from_result<size_t>(0); }
  size_t _scopy(uint8_t*, size_t) override { return 0; }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}

  mutable std::mutex mutex_;
  Mode mode_;
  const LineHandler* onLine_;
  std::string held_;  // the body so far, or the line so far
  End end_ = End::Complete;
  std::optional<core::Error> error_;
};

http::client::http_client_config makeConfig(const HttpOptions& options, core::Duration timeout,
                                            size_t chunkBytes) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  config.set_chunksize(chunkBytes);
  config.set_max_redirects(0);
  config.set_validate_certificates(!options.insecureSkipVerify);
  if (!options.caFile.empty()) {
    config.set_ssl_context_callback([ca = options.caFile](boost::asio::ssl::context& context) {
      boost::system::error_code ec;  // the handshake fails then, unless the system trusts it
      context.load_verify_file(ca, ec);
      if (ec) core::Logger("net").warn("ca_file_unreadable", {{"file", ca}, {"err", ec.message()}});
    });
  }
  return config;
}

class CpprestTransport final : public HttpTransport {
 public:
  explicit CpprestTransport(const HttpOptions& options)
      : options_(options),
        client_(options.baseUrl, makeConfig(options, options.timeout, kWholeReplyChunkBytes)) {}

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    return exchange(client_, request, nullptr);
  }

  core::Result<HttpResponse> stream(const HttpRequest& request,
                                    const LineHandler& onLine) override {
    return exchange(streamClient(), request, &onLine);
  }

  void cancel() override { cancel_.cancel(); }

 private:
  // Made on the first stream(): a client that never streams needs none.
  http::client::http_client& streamClient() {
    std::lock_guard lock(streamMutex_);
    if (!streamClient_) {
      streamClient_.emplace(options_.baseUrl,
                            makeConfig(options_, options_.streamTimeout, kStreamChunkBytes));
    }
    return *streamClient_;
  }

  static http::http_request build(const HttpRequest& request) {
    http::http_request message{http::method(request.method)};
    message.set_request_uri(web::uri(request.target));
    message.headers().add("Accept", "application/json");
    if (!request.authorization.empty()) {
      message.headers().add("Authorization", request.authorization);
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      message.set_body(request.body, request.contentType);
    }
    return message;
  }

  core::Result<HttpResponse> exchange(http::client::http_client& client, const HttpRequest& request,
                                      const LineHandler* onLine) {
    using Mode = BodySink::Mode;
    // Cancelling `transfer` closes the connection: how a reply is left unread past a limit.
    auto cancelled = cancel_.get_token();
    auto transfer = pplx::cancellation_token_source::create_linked_source(cancelled);
    auto sink =
        std::make_shared<BodySink>(onLine != nullptr ? Mode::Undecided : Mode::Whole, onLine);
    try {
      http::http_request message = build(request);
      message.set_response_stream(concurrency::streams::streambuf<uint8_t>(sink).create_ostream());
      http::http_response response = client.request(message, transfer.get_token()).get();
      HttpResponse out{response.status_code(), "", response.headers().content_type()};
      const bool lines = onLine != nullptr && out.status >= 200 && out.status <= 299;
      const auto announced = response.headers().content_length();
      if (!lines && announced > kMaxReplyBytes &&
          announced != std::numeric_limits<utility::size64_t>::max()) {
        transfer.cancel();
        return tooLarge("reply", kMaxReplyBytes);
      }
      if (onLine != nullptr) sink->decide(lines ? Mode::Lines : Mode::Whole);
      // The lines held until the status was known may have ended the transfer: cpprestsdk learns
      // it only at its next write to the sink, which a server holding the stream makes wait until
      // the stream's timeout. Cancelling closes the connection at once.
      if (sink->end() != BodySink::End::Complete) transfer.cancel();
      try {
        response.content_ready().get();
      } catch (const std::exception&) {
        // The sink's own reason when it ended the transfer.
        if (auto error = sink->error()) return *error;
        if (sink->end() != BodySink::End::ByHandler) throw;
      }
      auto body = sink->finish();
      if (!body) return body.error();
      if (!lines) out.body = std::move(body).value();
      return out;
    } catch (const std::exception& e) {
      transfer.cancel();
      if (auto error = sink->error()) return *error;
      return core::makeError(std::string("HTTP request failed: ") + e.what());
    }
  }

  HttpOptions options_;
  http::client::http_client client_;
  std::mutex streamMutex_;
  std::optional<http::client::http_client> streamClient_;
  pplx::cancellation_token_source cancel_;
};

}  // namespace

core::Result<std::unique_ptr<HttpTransport>> makeHttpTransport(const HttpOptions& options) {
  try {
    return std::unique_ptr<HttpTransport>(std::make_unique<CpprestTransport>(options));
  } catch (const std::exception& e) {
    return core::makeError("invalid URL " + options.baseUrl + ": " + e.what());
  }
}

std::string basicAuthorization(std::string_view user, std::string_view password) {
  std::string credentials;
  credentials.append(user).append(":").append(password);
  return "Basic " + base64Encode(credentials);
}

std::string bearerAuthorization(std::string_view token) { return "Bearer " + std::string(token); }

void setHttpThreads(size_t threads) { crossplat::threadpool::initialize_with_threads(threads); }

}  // namespace reaper::net
