// forkexit N [START_FILE]: once START_FILE exists (when given), starts N children one after the
// other; each makes one getppid system call and exits at once, and is reaped before the next.
// Prints "forkexit N" where N is the number of children that exited cleanly. The fork-heavy
// container of the capture memory test (per-run caches keyed by PID must stay bounded).
// vfork: a child that only makes a system call and exits needs no copy of the parent's memory,
// which keeps 100,000 of them within seconds even on a busy machine (fork took ~8 ms each there).
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: forkexit N [START_FILE]\n");
        return 2;
    }
    long n = std::strtol(argv[1], nullptr, 10);
    if (argc > 2)
        while (::access(argv[2], F_OK) != 0) ::usleep(1000);
    long done = 0;
    for (long i = 0; i < n; ++i) {
        pid_t child = ::vfork();
        if (child < 0) {
            std::perror("forkexit: vfork");
            return 1;
        }
        if (child == 0) {
            ::syscall(SYS_getppid);
            ::_exit(0);
        }
        int status = 0;
        if (::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++done;
    }
    std::printf("forkexit %ld\n", done);
    std::fflush(stdout);
    return done == n ? 0 : 1;
}
