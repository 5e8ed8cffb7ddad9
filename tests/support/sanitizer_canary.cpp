// A program with deliberate bugs, built only in sanitizer builds (tests/cmake/sanitizers.cmake).
// It proves the sanitizer test launcher (scripts/sanitizers/run-test.sh) catches a finding in a
// *child* process whose exit status the parent ignores, as integration tests ignore tracer-node's.
//   sanitizer_canary spawn <bug>   runs itself with <bug> as a child, ignores how it ended, exits 0
//   sanitizer_canary <bug>         commits <bug>: leak | use-after-free | overflow | race
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace {

// volatile: keeps the compiler from proving the bug away.
volatile int g_sink = 0;

int commit(std::string_view bug) {
    if (bug == "leak") {
        int* p = new int[16];
        p[0] = 1;
        g_sink = p[0];
        p = nullptr;  // the only pointer is gone before exit: LSan reports it
        return 0;
    }
    if (bug == "use-after-free") {
        int* p = new int[4];
        delete[] p;
        g_sink = p[2];
        return 0;
    }
    if (bug == "overflow") {
        volatile int big = INT_MAX;
        g_sink = big + 1;
        return 0;
    }
    if (bug == "race") {
        int shared = 0;
        std::thread t([&] { shared = 1; });
        shared = 2;
        t.join();
        g_sink = shared;
        return 0;
    }
    std::fprintf(stderr, "unknown bug %.*s\n", static_cast<int>(bug.size()), bug.data());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string_view(argv[1]) == "spawn") {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::execl("/proc/self/exe", argv[0], argv[2], static_cast<char*>(nullptr));
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return 0;  // on purpose: only the launcher can notice the child's report
    }
    if (argc == 2) return commit(argv[1]);
    std::fprintf(stderr, "usage: %s [spawn] leak|use-after-free|overflow|race\n", argv[0]);
    return 2;
}
