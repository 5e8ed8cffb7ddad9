// fswalk DIR N [START_FILE]: creates a small tree under DIR (kDirs directories of kFiles empty
// files each; reused if present), then, once START_FILE exists (when given), walks the tree N
// times and stats every file with one raw newfstatat call each. Prints "fswalk S" where S is the
// number of newfstatat calls made in the walk, the figure tracers are checked against.
// The tree is left in place: the caller owns DIR and removes it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kDirs = 16;
constexpr int kFiles = 32;

bool make_tree(const std::string& parent, const std::string& root) {
    for (const auto& dir : {parent, root})
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
    for (int d = 0; d < kDirs; ++d) {
        std::string dir = root + "/d" + std::to_string(d);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
        for (int f = 0; f < kFiles; ++f) {
            std::string file = dir + "/f" + std::to_string(f);
            int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            if (fd < 0) return false;
            ::close(fd);
        }
    }
    return true;
}

// One pass: read every directory with raw getdents64 (opendir would add an fstat, which glibc
// makes a newfstatat) and stat each file with one raw newfstatat. Returns the stat count.
long walk(const std::string& root) {
    long stats = 0;
    alignas(8) char buf[16384];
    for (int d = 0; d < kDirs; ++d) {
        std::string dir = root + "/d" + std::to_string(d);
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) continue;
        for (;;) {
            long got = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (got <= 0) break;
            for (long off = 0; off < got;) {
                auto* entry = reinterpret_cast<struct dirent64*>(buf + off);
                off += entry->d_reclen;
                if (entry->d_name[0] == '.') continue;
                struct stat st{};
                ::syscall(SYS_newfstatat, fd, entry->d_name, &st, 0);
                ++stats;
            }
        }
        ::close(fd);
    }
    return stats;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: fswalk DIR N [START_FILE]\n");
        return 2;
    }
    std::string root = std::string(argv[1]) + "/tree";
    long n = std::strtol(argv[2], nullptr, 10);
    if (!make_tree(argv[1], root)) {
        std::perror("fswalk: creating the tree");
        return 1;
    }
    if (argc > 3)
        while (::access(argv[3], F_OK) != 0) ::usleep(1000);
    long stats = 0;
    for (long i = 0; i < n; ++i) stats += walk(root);
    // write(), not printf: stdio's first output would fstat stdout, one more newfstatat.
    std::string line = "fswalk " + std::to_string(stats) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
    return 0;
}
