// Pure JSON rendering of API answers, in the seed's exact shapes (docs/api.md).
// Extensions beyond the seed are marked there: container "Namespace"/"RuntimeId"/"Node", session "Stats".
#pragma once

#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "tracer-node/discovery/container_source.h"
#include "tracer-node/hooks/hook_registry.h"
#include "tracer-node/sessions/session.h"

namespace ct::node {

// {"<pod>": {"Containers": {"<name>": {"Id", "Parent", "Pod", "Tasks"}}}}; each container also
// names `node_name` as "Node" (extension) unless it is empty: tracer-svc keeps containers of
// different nodes apart by it.
boost::json::object render_pods(const PodMap& pods, std::string_view node_name = {});
// {"trace-hooks/ftrace": {"Tracers": {"<name>": {"Description": [...], "Name"}}}}
boost::json::object render_hooks(const std::vector<HookInfo>& hooks);
// {"Delivered", "Lost", "Overrun", "Dropped", "Unparsed", "QueueDropped", "Runs",
//  "Exporters": {"<kind>": {"Exported", "Dropped", "Errors"}}}.
boost::json::object render_stats(const SessionStats& stats);
// The value under the session's id: {"Containers", "Context", "Error", "Id", "Node", ...}.
boost::json::object render_session(const SessionView& session);
// {"<id>": render_session(...)} for each.
boost::json::object render_sessions(const std::vector<SessionView>& sessions);

}  // namespace ct::node
