#pragma once
// A plain HTTP/1.1 server on 127.0.0.1 for the transport's tests: each request goes to a handler
// that writes the reply's bytes itself, so a test decides when each byte of a reply leaves (a
// stream held open, a line that never ends). The destructor closes every connection and joins every
// thread it started, also when a test fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace reaper::test {

// One request on its connection, and the means to answer it.
class Exchange {
 public:
  Exchange(int fd, size_t connection, std::string method, std::string target,
           std::map<std::string, std::string> headers)
      : connection(connection),
        method(std::move(method)),
        target(std::move(target)),
        headers(std::move(headers)),
        fd_(fd) {}

  // False once the client closed the connection (or reset it).
  bool write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool reply(int status, std::string_view body, std::string_view extraHeaders = "") {
    return write("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
                 std::string(extraHeaders) + "Content-Length: " + std::to_string(body.size()) +
                 "\r\n\r\n") &&
           write(body);
  }
  // A chunked reply: begin(), any number of chunk(), end().
  bool begin(int status) { return write(chunkedHead(status)); }
  bool chunk(std::string_view data) { return data.empty() || write(chunkOf(data)); }
  bool end() { return write("0\r\n\r\n"); }
  // begin() and chunk() in one write: the client reads the first bytes of the body with the head.
  bool beginWith(int status, std::string_view data) {
    return write(chunkedHead(status) + chunkOf(data));
  }
  // Ends the connection without (more of) a reply.
  void close() { ::shutdown(fd_, SHUT_RDWR); }
  // Waits for the client to close the connection; false when it sends more instead (a next request
  // on it) or still holds it after `patience`.
  bool closedByClient(std::chrono::milliseconds patience) {
    pollfd ready{.fd = fd_, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (::poll(&ready, 1, static_cast<int>(patience.count())) <= 0) return false;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
  }

  const size_t connection;  // the connection's number, from 0 in the order they were accepted
  const std::string method, target;
  const std::map<std::string, std::string> headers;  // names in lower case
  size_t sent = 0;                                   // bytes written on this exchange

 private:
  static std::string chunkedHead(int status) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  }
  static std::string chunkOf(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + std::string(data) + "\r\n";
  }

  int fd_;
};

class LoopbackServer {
 public:
  using Handler = std::function<void(Exchange&)>;

  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~LoopbackServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& thread : connections_) thread.join();
    ::close(listener_);
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // "METHOD target" of every request so far.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lock(mutex_);
      open_.push_back(fd);
      connections_.emplace_back([this, fd, number = connections_.size()] { serve(fd, number); });
    }
  }

  // Requests on one connection, one after the other, until the client closes it.
  void serve(int fd, size_t number) {
    std::string buffer;
    char data[4096];
    while (!stopping_) {
      const auto headEnd = buffer.find("\r\n\r\n");
      if (headEnd == std::string::npos) {
        const ssize_t n = ::recv(fd, data, sizeof data, 0);
        if (n <= 0) break;
        buffer.append(data, static_cast<size_t>(n));
        continue;
      }
      std::string head = buffer.substr(0, headEnd);
      buffer.erase(0, headEnd + 4);
      std::map<std::string, std::string> headers;
      size_t lineEnd = head.find("\r\n");
      const std::string requestLine = head.substr(0, lineEnd);
      while (lineEnd != std::string::npos) {
        const size_t start = lineEnd + 2;
        lineEnd = head.find("\r\n", start);
        const std::string line = head.substr(start, lineEnd - start);
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      const size_t length =
          headers.contains("content-length") ? std::stoul(headers.at("content-length")) : 0;
      while (buffer.size() < length) {
        const ssize_t n = ::recv(fd, data, sizeof data, 0);
        if (n <= 0) break;
        buffer.append(data, static_cast<size_t>(n));
      }
      buffer.erase(0, length);
      const size_t space = requestLine.find(' ');
      const std::string method = requestLine.substr(0, space);
      const std::string target = requestLine.substr(space + 1, requestLine.rfind(' ') - space - 1);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(method + " " + target);
      }
      Exchange exchange(fd, number, method, target, std::move(headers));
      handler_(exchange);
    }
    std::lock_guard lock(mutex_);
    std::erase(open_, fd);
    ::close(fd);
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::string> requests_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

// A one-way signal between a test and a handler; waits give up after `patience` so that a broken
// client fails a test instead of hanging it.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool wait(std::chrono::seconds patience = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, patience, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

}  // namespace reaper::test
