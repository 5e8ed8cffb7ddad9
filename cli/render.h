// What ctrace prints: tables of the API's answers and event rows (docs/cli.md). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "cli/model.h"
#include "cli/selector.h"
#include "cli/table.h"

namespace ct::cli {

// NODE NAMESPACE POD CONTAINER PIDS, sorted; "-" for what the answer does not say.
std::string pods_table(std::vector<ContainerEntry> containers);
// HOOK MANAGER DESCRIPTION (the description's first line).
std::string hooks_table(const std::vector<HookEntry>& hooks);
// ID NODE HOOK RUNNING DELIVERED LOST CONTEXT CONTAINERS.
std::string sessions_table(const std::vector<SessionEntry>& sessions);

// The pods (keys of GET /v1/pods) with at least one container the selector matches, as the
// answer had them.
boost::json::object filter_pods(const boost::json::object& answer, const PodSelector& selector);
std::vector<ContainerEntry> filter_containers(std::vector<ContainerEntry> containers, const PodSelector& selector);

// "101,102,103" — at most `limit` pids, then " +N".
std::string pid_list(const std::vector<pid_t>& pids, size_t limit = 6);

// Event rows: TIME NODE POD CONTAINER PID COMM EVENT DETAILS (docs/api.md "Exported events").
class EventColumns {
public:
    EventColumns();
    std::string header() { return table_.header(); }
    // One row for one event line; a line that is not an event object is shown as it is, so
    // nothing the server sends is hidden.
    std::string row(std::string_view json_line);

private:
    StreamTable table_;
};

}  // namespace ct::cli
