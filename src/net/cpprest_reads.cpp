#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <limits>
#include <vector>

#include "net/cpprest_reads.h"

namespace reaper::net {
namespace {

constexpr size_t kChunk = 64 << 10;

// Reads what has arrived of `body`, at least one byte and at most `count`, into `out`; 0 at the
// end of the body. Never waits for more than one byte: a watch delivers each line as it comes.
size_t readChunk(concurrency::streams::istream& body, std::vector<char>& out, size_t count) {
  out.resize(count);
  const size_t n = body.streambuf().getn(reinterpret_cast<uint8_t*>(out.data()), count).get();
  out.resize(n);
  return n;
}

std::string tooLarge(size_t maxBytes) {
  return "reply larger than " + std::to_string(maxBytes) + " bytes";
}

}  // namespace

core::Result<std::string> readBodyCapped(web::http::http_response& response, size_t maxBytes,
                                         pplx::cancellation_token_source& transfer) {
  const auto announced = response.headers().content_length();
  if (announced > maxBytes && announced != std::numeric_limits<utility::size64_t>::max()) {
    transfer.cancel();
    return core::makeError(tooLarge(maxBytes));
  }
  auto body = response.body();
  std::string text;
  // Reserved at once: growing by doubling would hold the old and the new copy at the cap.
  // Pages never written cost no memory.
  text.reserve(maxBytes);
  std::vector<char> chunk;
  while (readChunk(body, chunk, kChunk) > 0) {
    if (text.size() + chunk.size() > maxBytes) {
      transfer.cancel();
      return core::makeError(tooLarge(maxBytes));
    }
    text.append(chunk.data(), chunk.size());
  }
  return text;
}

}  // namespace reaper::net
