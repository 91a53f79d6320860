#!/usr/bin/python3
"""A file whose reads never return: a FUSE file system of the test's own, served by this script
(run as a separate process) straight over /dev/fuse, that answers everything but READ, which it
holds. A process reading the file waits in the kernel for the answer; once it has a fatal signal
(a SIGTERM with no handler counts as SIGKILL) the kernel, which already handed the request to the
server, waits on uninterruptibly: the process is in state D with SIGKILL pending until the server
answers or goes away (fs/fuse/dev.c, request_wait_answer). That is how a member on a hung FUSE or
NFS mount outlives SIGKILL in production, and it needs no cgroup: the cgroup v1 freezer also leaves
frozen tasks in D with SIGKILL pending, but pure cgroup v2 hosts have none, and the v2 freezer
parks tasks in an interruptible sleep that SIGKILL ends.

Protocol: the FUSE kernel ABI 7.31 (Linux 5.4+). The server prints `mounted` once the mount is up
and `held <pid>` for every READ it holds (the reader's pid, from the request header). Ending the
server (SIGTERM) closes /dev/fuse, which aborts the connection: held reads fail and their readers
run on, to die of the pending signal. The mount is detached (MNT_DETACH) on the way out."""
import ctypes
import os
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import require, wait_for  # noqa: E402

FILE_NAME = "held"
ROOT, FILE = 1, 2  # node ids
# Opcodes and flags of include/uapi/linux/fuse.h.
LOOKUP, GETATTR, OPEN, READ, RELEASE, FLUSH, INIT, OPENDIR, RELEASEDIR, INTERRUPT, DESTROY = (
    1, 3, 14, 15, 18, 25, 26, 27, 29, 36, 38)
NO_REPLY = (2, 42, INTERRUPT)  # FORGET, BATCH_FORGET: never answered; INTERRUPT: ignored
FOPEN_DIRECT_IO = 1  # reads go to the server as they are made, bypassing the page cache
IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen padding
OUT_HEADER = struct.Struct("<IiQ")  # len error unique
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # fuse_attr, 88 bytes
BUFFER = 1 << 20  # larger than any request: max_write is the kernel's minimum, 4 KiB


def attr(node):
    mode = stat.S_IFDIR | 0o755 if node == ROOT else stat.S_IFREG | 0o444
    return ATTR.pack(node, 0 if node == ROOT else 1 << 20, 0, 0, 0, 0, 0, 0, 0, mode,
                     2 if node == ROOT else 1, 0, 0, 0, 4096, 0)


def answer(opcode, node, payload):
    """(error, reply body) of a request other than READ."""
    if opcode == INIT:
        major, minor = struct.unpack_from("<II", payload)
        # major minor max_readahead flags max_background congestion_threshold max_write time_gran
        # max_pages map_alignment flags2, then unused: 64 bytes
        return 0, struct.pack("<IIIIHHIIHHI", 7, min(minor, 31), 0, 0, 1, 1, 4096, 1, 1, 0,
                              0).ljust(64, b"\0")
    if opcode == LOOKUP:
        if node != ROOT or payload.rstrip(b"\0") != FILE_NAME.encode():
            return -2, b""  # ENOENT
        return 0, struct.pack("<QQQQII", FILE, 0, 0, 0, 0, 0) + attr(FILE)
    if opcode == GETATTR:
        return 0, struct.pack("<QII", 0, 0, 0) + attr(node)
    if opcode in (OPEN, OPENDIR):
        return 0, struct.pack("<QII", 0, FOPEN_DIRECT_IO if opcode == OPEN else 0, 0)
    if opcode in (RELEASE, RELEASEDIR, FLUSH, DESTROY):
        return 0, b""
    return -38, b""  # ENOSYS


def serve(mount_point, parent):
    libc = ctypes.CDLL(None, use_errno=True)
    # A test killed outright (a ctest timeout) takes its server along: a held reader is never left
    # in D for good.
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        return
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"airflow-reaper-held", mount_point.encode(), b"fuse", 0x6, options) != 0:
        sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")  # 0x6: MS_NOSUID | MS_NODEV
    try:
        print("mounted", flush=True)
        while True:
            try:
                request = os.read(fd, BUFFER)
            except OSError:  # ENODEV: unmounted
                return
            _, opcode, unique, node, _, _, pid, _, _ = IN_HEADER.unpack_from(request)
            if opcode == READ:
                print(f"held {pid}", flush=True)
                continue
            if opcode in NO_REPLY:
                continue
            error, body = answer(opcode, node, request[IN_HEADER.size:])
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), error, unique) + body)
    finally:
        libc.umount2(mount_point.encode(), 2)  # MNT_DETACH


class HeldRead:
    """The server above on a mount point of the test's own; stopped and unmounted at cleanup.
    `path` is the file whose reads are held."""

    def __init__(self, test):
        require(os.geteuid() == 0, "needs root: mounting a FUSE file system")
        require(os.path.exists("/dev/fuse"),
                "no /dev/fuse (a container without the device, or a kernel without FUSE): the "
                "unkillable member is a read held by a FUSE server of the test's own")
        self.mount_point = tempfile.mkdtemp(prefix="airflow-reaper-held-")
        self.path = os.path.join(self.mount_point, FILE_NAME)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), self.mount_point,
                                      str(os.getpid())],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = None
        test.addCleanup(self.release)
        first = self.proc.stdout.readline().strip()
        if first != "mounted":
            test.fail(f"the FUSE server did not start: {first}{self.proc.stdout.read()}")
        self.held = []  # pids whose READ the server holds, appended by the thread below
        self.reader = threading.Thread(target=self._read_held, daemon=True)
        self.reader.start()

    def _read_held(self):
        for line in self.proc.stdout:
            if line.startswith("held "):
                self.held.append(int(line.split()[1]))

    def wait_held(self, pid, timeout):
        """Whether a READ of `pid` reached the server (and is held) within `timeout` seconds."""
        return wait_for(lambda: pid in self.held, timeout)

    def release(self):
        """Ends the server: held reads fail, and a reader with a pending SIGKILL dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.reader:
            self.reader.join(10)  # ends with the server's output
        self.proc.stdout.close()
        subprocess.run(["umount", "-l", self.mount_point], capture_output=True)
        try:
            os.rmdir(self.mount_point)
        except OSError:
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(sys.argv[1], int(sys.argv[2]))
