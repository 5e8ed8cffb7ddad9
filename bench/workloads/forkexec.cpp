// forkexec N [START_FILE]: once START_FILE exists (when given), forks N children one after the
// other, each of which execs /bin/true, and waits for each. Prints "forkexec N" where N is the
// number of execve calls made (one per child), the figure tracers are checked against.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: forkexec N [START_FILE]\n");
        return 2;
    }
    long n = std::strtol(argv[1], nullptr, 10);
    if (argc > 2)
        while (::access(argv[2], F_OK) != 0) ::usleep(1000);
    long execs = 0;
    for (long i = 0; i < n; ++i) {
        pid_t child = ::fork();
        if (child < 0) {
            std::perror("forkexec: fork");
            return 1;
        }
        if (child == 0) {
            char* const args[] = {const_cast<char*>("true"), nullptr};
            ::execv("/bin/true", args);
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "forkexec: child %d failed\n", static_cast<int>(child));
            return 1;
        }
        ++execs;
    }
    std::printf("forkexec %ld\n", execs);
    std::fflush(stdout);
    return 0;
}
