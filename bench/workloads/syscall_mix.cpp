// syscall_mix GETPPID ENOENT CHILDREN [START_FILE]: a known mix of system calls. With START_FILE,
// first waits for that file to exist (so a tracer can attach). Then forks CHILDREN children;
// the parent and each child make GETPPID raw getppid calls and ENOENT openat calls of a missing
// path (each fails with ENOENT). Prints "getppid <total> enoent <total>" once all are done.
// Built static: no dynamic loader adds calls of its own (tests compare counts with strace -c).
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

long work(long getppid_calls, long enoent_calls) {
    long failed = 0;
    for (long i = 0; i < getppid_calls; ++i) ::syscall(SYS_getppid);
    for (long i = 0; i < enoent_calls; ++i)
        if (::syscall(SYS_openat, AT_FDCWD, "/nonexistent/ct-syscall-mix", O_RDONLY) < 0) ++failed;
    return failed;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: syscall_mix GETPPID ENOENT CHILDREN [START_FILE]\n");
        return 2;
    }
    long getppid_calls = std::strtol(argv[1], nullptr, 10);
    long enoent_calls = std::strtol(argv[2], nullptr, 10);
    long children = std::strtol(argv[3], nullptr, 10);
    if (argc > 4)
        while (::access(argv[4], F_OK) != 0) ::usleep(1000);
    for (long c = 0; c < children; ++c) {
        pid_t pid = ::fork();
        if (pid < 0) return 1;
        if (pid == 0) ::_exit(work(getppid_calls, enoent_calls) == enoent_calls ? 0 : 1);
    }
    bool ok = work(getppid_calls, enoent_calls) == enoent_calls;
    for (long c = 0; c < children; ++c) {
        int status = 0;
        if (::wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = false;
    }
    std::printf("getppid %ld enoent %ld\n", getppid_calls * (children + 1), enoent_calls * (children + 1));
    return ok ? 0 : 1;
}
