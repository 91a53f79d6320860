// `idle_tree EXTRA READY_FD`: a process that forks EXTRA idle children and idles with them, so one
// exec yields a whole tree sharing its environment (an exec costs far more than a fork). READY_FD
// is closed by every member once the tree is complete: its reader sees end of file then. Every
// member dies with its parent (PR_SET_PDEATHSIG), so killing the root kills the tree.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace {

[[noreturn]] void idleForever() {
  for (;;) ::pause();
}

// Dies with `parent`; false when the parent is already gone.
bool tieTo(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return ::getppid() == parent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const int extra = std::atoi(argv[1]);
  const int readyFd = std::atoi(argv[2]);
  const pid_t self = ::getpid();
  for (int i = 0; i < extra; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      ::close(readyFd);
      if (!tieTo(self)) ::_exit(1);
      idleForever();
    }
  }
  ::close(readyFd);
  idleForever();
}
