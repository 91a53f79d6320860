// The agent's own validation of one configuration file, for the chart tests: exit 0 when the agent
// accepts it, 2 (and the message) when it does not. Resolution against the machine (environment,
// roots) is left out: the file is rendered for a node, not for this one.
#include <fstream>
#include <iostream>
#include <sstream>

#include "config/config.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: config_check FILE\n";
    return 1;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot read\n";
    return 1;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto config = reaper::config::parseConfig(text.str());
  if (!config.ok()) {
    std::cout << config.error().message << "\n";
    return 2;
  }
  return 0;
}
