// The report's "Diagnostics" section, from RUN/diagnostics.json alone
// (`lightreasoner diagnose`; METHOD.md "Diagnostics"): a small table and one
// paragraph that states its numbers plainly; "—" when the file is absent.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

namespace lr::driver {

void write_diagnostics(std::ostream& md, const std::optional<nlohmann::json>& diagnostics);

}  // namespace lr::driver
