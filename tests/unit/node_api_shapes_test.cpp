// The JSON shapes of every answer, compared key by key with the seed document's examples.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tracer-node/api/render.h"
#include "tracer-node/sessions/session.h"

using namespace ct::node;
namespace json = boost::json;

TEST_CASE("GET /v1/pods has the seed's shape", "[unit]") {
    PodMap pods;
    auto& pod = pods["jaeger-operator-7b46f44865-jvgz8"];
    pod.name = "jaeger-operator-7b46f44865-jvgz8";
    pod.containers["jaeger-operator"] = {"jaeger-operator", pod.name, "", "", {1002496}, {7337}};
    pod.containers["kube-rbac-proxy"] = {"kube-rbac-proxy", pod.name, "", "", {7438}, {7337}};
    auto expected = json::parse(R"({
      "jaeger-operator-7b46f44865-jvgz8": {
        "Containers": {
          "jaeger-operator": {"Id": "jaeger-operator", "Parent": [7337], "Pod": "jaeger-operator-7b46f44865-jvgz8", "Tasks": [1002496]},
          "kube-rbac-proxy": {"Id": "kube-rbac-proxy", "Parent": [7337], "Pod": "jaeger-operator-7b46f44865-jvgz8", "Tasks": [7438]}
        }
      }})");
    CHECK(json::value(render_pods(pods)) == expected);
}

TEST_CASE("CRI containers add Namespace and RuntimeId beside the seed's fields", "[unit]") {
    PodMap pods;
    pods["p"].name = "p";
    pods["p"].containers["c"] = {"c", "p", "default", "abc123", {2}, {1}};
    auto c = render_pods(pods).at("p").at("Containers").at("c").as_object();
    CHECK(c.at("Namespace") == "default");
    CHECK(c.at("RuntimeId") == "abc123");
    CHECK(c.at("Id") == "c");
}

TEST_CASE("GET /v1/trace-hooks has the seed's shape", "[unit]") {
    std::vector<HookInfo> hooks = {{"trace_syscalls",
                                    {"Trace system calls, used by given container",
                                     "-s, --syscall [SYSCALL ...] : list of System call names to be traced, optional "
                                     "argument.",
                                     "If no system calls are specified, all available are traced.",
                                     "-t, --time TIME : Duration of the trace in milliseconds, optional argument"},
                                    "/x/trace-hooks/ftrace/manager",
                                    "trace-hooks/ftrace"}};
    auto expected = json::parse(R"({
      "trace-hooks/ftrace": {
        "Tracers": {
          "trace_syscalls": {
            "Description": [
              "Trace system calls, used by given container",
              "-s, --syscall [SYSCALL ...] : list of System call names to be traced, optional argument.",
              "If no system calls are specified, all available are traced.",
              "-t, --time TIME : Duration of the trace in milliseconds, optional argument"
            ],
            "Name": "trace_syscalls"
          }
        }
      }})");
    CHECK(json::value(render_hooks(hooks)) == expected);
}

TEST_CASE("GET /v1/trace-session/<id> has the seed's shape plus Stats", "[unit]") {
    SessionView v;
    v.id = 6903485068587058765ULL;
    v.spec = {"jaeger*", "*", "trace_syscalls", "", "test"};
    v.containers = {{"jaeger-599bd8cddd-f6tcj", {"jaeger"}},
                    {"jaeger-agent-daemonset-4fpcc", {"jaeger-agent-daemonset"}},
                    {"jaeger-operator-7b46f44865-jvgz8", {"kube-rbac-proxy", "jaeger-operator"}}};
    v.node = "calisto.zico.biz";
    auto rendered = render_sessions({v});
    auto expected = json::parse(R"({
      "6903485068587058765": {
        "Containers": {
          "jaeger-599bd8cddd-f6tcj": ["jaeger"],
          "jaeger-agent-daemonset-4fpcc": ["jaeger-agent-daemonset"],
          "jaeger-operator-7b46f44865-jvgz8": ["kube-rbac-proxy", "jaeger-operator"]
        },
        "Context": "test",
        "Error": null,
        "Id": "6903485068587058765",
        "Node": "calisto.zico.biz",
        "Output": null,
        "Running": false,
        "TraceHook": "trace_syscalls",
        "TraceParams": []
      }})").as_object();
    auto& session = rendered.at("6903485068587058765").as_object();
    REQUIRE(session.contains("Stats"));  // extensions
    session.erase("Stats");
    CHECK(session.at("TraceMode") == "stream");
    CHECK(session.at("RingSize").is_null());
    session.erase("TraceMode");
    session.erase("RingSize");
    CHECK(json::value(rendered) == json::value(expected));
}

TEST_CASE("TraceParams are the arguments split on whitespace; Output and Error are line lists", "[unit]") {
    SessionView v;
    v.spec.args = "  -s getppid\topenat ";
    v.output = std::vector<std::string>{"/sys/kernel/tracing/instances/x/trace_pipe"};
    v.error = std::vector<std::string>{"unknown syscall \"foo\""};
    auto s = render_session(v);
    CHECK(s.at("TraceParams") == json::parse(R"(["-s","getppid","openat"])"));
    CHECK(s.at("Output") == json::parse(R"(["/sys/kernel/tracing/instances/x/trace_pipe"])"));
    CHECK(s.at("Error") == json::parse(R"(["unknown syscall \"foo\""])"));
}

TEST_CASE("select_containers matches pod and container globs, and namespace/pod", "[unit]") {
    PodMap pods;
    pods["jaeger-operator-1"] = {"jaeger-operator-1", "observability", {}};
    pods["jaeger-operator-1"].containers["jaeger-operator"] = {};
    pods["jaeger-operator-1"].containers["kube-rbac-proxy"] = {};
    pods["jaeger-2"] = {"jaeger-2", "default", {}};
    pods["jaeger-2"].containers["jaeger"] = {};
    pods["other"] = {"other", "default", {}};
    pods["other"].containers["x"] = {};

    auto all = select_containers(pods, "jaeger*", "*");
    CHECK(all.size() == 2);
    CHECK(all["jaeger-operator-1"] == std::vector<std::string>{"jaeger-operator", "kube-rbac-proxy"});
    CHECK(select_containers(pods, "jaeger*", "kube*").size() == 1);
    CHECK(select_containers(pods, "observability/jaeger*", "*").size() == 1);
    CHECK(select_containers(pods, "default/*", "*").size() == 2);
    CHECK(select_containers(pods, "nomatch*", "*").empty());
}
