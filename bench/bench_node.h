// What the benchmarks that drive a real tracer-node share: one HTTP call to it, and starting it
// (built binaries, procfs discovery, its own state directory) and waiting until it is ready.
// Header-only; CT_BINARY_DIR is the build tree (bench/CMakeLists.txt).
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/subprocess.h"

namespace ct::bench {

inline Result<http::ClientResponse> call(unsigned short port, const std::string& method, const std::string& target,
                                         std::string body = "") {
    http::ClientRequest r;
    r.port = port;
    r.method = method;
    r.target = target;
    r.body = std::move(body);
    r.timeout = std::chrono::minutes(10);
    return http::send(r);
}

// tracer-node on 127.0.0.1:`port` with its state under `dir`, exporting to `trace_output`, plus
// `extra` flags; returns once /readyz answers 200 (or after 10 s).
inline Result<Subprocess> start_node(unsigned short port, const std::filesystem::path& dir,
                                     const std::string& trace_output, const std::vector<std::string>& extra = {}) {
    SpawnOptions opts;
    opts.argv = {CT_BINARY_DIR "/tracer-node/tracer-node", "--trace-hooks", CT_BINARY_DIR "/trace-hooks",
                 "--use-procfs", "--trace-output", trace_output, "--address", fmt::format("127.0.0.1:{}", port),
                 "--state-dir", (dir / "state").string()};
    opts.argv.insert(opts.argv.end(), extra.begin(), extra.end());
    opts.capture_stdout = opts.capture_stderr = false;
    auto node = Subprocess::spawn(opts);
    if (!node) return node;
    for (int i = 0; i < 200; ++i) {
        auto r = call(port, "GET", "/readyz");
        if (r && r->status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return node;
}

}  // namespace ct::bench
