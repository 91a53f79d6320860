"""A cgroup of a test's own that carries one controller, in whichever hierarchy the host mounts
that controller on: its cgroup v1 hierarchy (hybrid and legacy hosts), else the unified hierarchy
(pure cgroup v2), where it must be enabled in the parent's cgroup.subtree_control. The layouts are
those of src/os/cgroup_layout.*, read the same way: from this process's mountinfo under
/sys/fs/cgroup."""
import errno
import os
import secrets
import signal

from harness import read_text, require, wait_for

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_mounts(mountinfo="/proc/self/mountinfo"):
    """(the cgroup2 mount point or None, {super option of a v1 hierarchy, its controllers among
    them: that hierarchy's mount point})."""
    unified, legacy = None, {}
    for line in read_text(mountinfo).splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        if mount_point != CGROUP_ROOT and not mount_point.startswith(CGROUP_ROOT + "/"):
            continue
        fs_type, _, super_options = line.split(" - ", 1)[1].split()[:3]
        if fs_type == "cgroup2":
            unified = mount_point
        elif fs_type == "cgroup":
            for option in super_options.split(","):
                legacy[option] = mount_point
    return unified, legacy


def _words(path):
    return read_text(path).split()


class ControllerCgroup:
    """A cgroup with `controller` under a unique name; its members are killed and it is removed at
    the test's cleanup. `version` says which hierarchy it is in (1 or 2)."""

    def __init__(self, test, controller):
        require(os.geteuid() == 0, f"needs root: a {controller} cgroup")
        unified, legacy = cgroup_mounts()
        name = f"airflow-reaper-faults-{os.getpid()}-{secrets.token_hex(4)}"
        if controller in legacy:
            self.version, parent = 1, legacy[controller]
        else:
            self.version, parent = 2, unified
            require(unified is not None, f"no cgroup v1 {controller} hierarchy and no cgroup2 "
                                         f"mount under {CGROUP_ROOT}")
            self._enable(parent, controller)
        self.path = os.path.join(parent, name)
        try:
            os.mkdir(self.path)
        except OSError as e:
            require(False, f"cannot create a cgroup in {parent}: {e.strerror}")
        test.addCleanup(self.remove)

    @staticmethod
    def _enable(parent, controller):
        """Enables `controller` for the children of the cgroup2 directory `parent` if it is not."""
        available = _words(os.path.join(parent, "cgroup.controllers"))
        require(controller in available,
                f"the cgroup2 mount {parent} offers no {controller} controller "
                f"(cgroup.controllers: {' '.join(available) or 'none'}) and no cgroup v1 "
                f"{controller} hierarchy is mounted: no hierarchy here carries it")
        if controller in _words(os.path.join(parent, "cgroup.subtree_control")):
            return
        try:
            with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                f.write(f"+{controller}")
        except OSError as e:
            # EBUSY: the parent holds processes itself (a container's namespace root), and cgroup
            # v2 enables controllers for the children of a cgroup without processes only.
            why = ("it holds processes of its own" if e.errno == errno.EBUSY else e.strerror)
            require(False, f"cannot enable the {controller} controller in "
                           f"{parent}/cgroup.subtree_control: {why}")

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def pids(self):
        return [int(p) for p in read_text(os.path.join(self.path, "cgroup.procs")).split()]

    def remove(self):
        for pid in self.pids():  # only what the test put here, and what that forked
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.pids(), 10)
        try:
            os.rmdir(self.path)
        except OSError:
            pass
