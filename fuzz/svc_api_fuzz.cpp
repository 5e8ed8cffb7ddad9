// tracer-svc's HTTP API from raw bytes: Beast request parser -> SvcApi's router -> validation
// (ids, JSON bodies) -> fan-out -> merge, as a connection of the real server does it. The node
// directory is a static list with no nodes, so the fan-out sends nothing and every valid
// request ends in the merge's "no tracer nodes" answer. Every answer must pass
// fuzz::check_response().
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include <spdlog/spdlog.h>

#include "fuzz/fuzz_http.h"
#include "tracer-svc/api/svc_api.h"
#include "tracer-svc/nodes/static_source.h"

namespace {

using namespace ct::svc;

// The tracer-svc stand-in; built once, lives for the process.
struct Svc {
    NodeDirectory directory{std::make_unique<StaticSource>(std::vector<NodeAddress>{}), std::chrono::hours(1)};
    FanoutClient fanout{FanoutOptions{}};
    SvcApi api{directory, fanout};
    ct::http::Router router = api.router();

    Svc() {
        if (!directory.refresh()) std::abort();  // ready, with an empty list
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Svc* svc = [] {
        spdlog::set_level(spdlog::level::off);  // refusals are logged; keep libFuzzer's output readable
        return new Svc;                         // never freed: libFuzzer may exit from any thread
    }();
    ct::fuzz::serve_input({reinterpret_cast<const char*>(data), size}, svc->router,
                          [](const ct::http::Request& request, const ct::http::Router::Dispatched& d) {
                              svc->api.observe(d.route, request.method, d.response.status);
                          });
    return 0;
}
