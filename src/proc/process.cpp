#include "proc/process.h"

namespace reaper::proc {

struct CommandLine::Recognised {
  std::vector<std::string> words;
  Recognition recognition;
};

CommandLine::CommandLine(std::vector<std::string> words) {
  if (words.empty()) return;
  Recognition recognition = recognize(words);
  recognised_ =
      std::make_shared<const Recognised>(Recognised{std::move(words), std::move(recognition)});
}

const std::vector<std::string>& CommandLine::words() const {
  static const std::vector<std::string> kNone;
  return recognised_ ? recognised_->words : kNone;
}

const Recognition& CommandLine::recognition() const {
  static const Recognition kNothing;
  return recognised_ ? recognised_->recognition : kNothing;
}

bool CommandLine::operator==(const CommandLine& other) const {
  return recognised_ == other.recognised_ || words() == other.words();
}

}  // namespace reaper::proc
