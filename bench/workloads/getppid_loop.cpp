// getppid_loop N [START_FILE|- [pause]]: makes N getppid system calls as fast as it can. With
// START_FILE, first waits for that file to exist, so a tracer can be attached before the first
// call. Prints the number of calls made. With "pause", then waits for a signal (the flight
// recorder test kills it). Used by the export tests and the pipeline benchmark.
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: getppid_loop N [START_FILE]\n");
        return 2;
    }
    long n = std::strtol(argv[1], nullptr, 10);
    if (argc > 2 && std::string_view(argv[2]) != "-")
        while (::access(argv[2], F_OK) != 0) ::usleep(1000);
    long i = 0;
    for (; i < n; ++i) ::syscall(SYS_getppid);  // the raw call: no libc caching, one event pair each
    std::printf("%ld\n", i);
    if (argc > 3 && std::string_view(argv[3]) == "pause") {
        std::fflush(stdout);
        ::pause();
    }
    return 0;
}
