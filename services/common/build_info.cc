#include "services/common/build_info.h"

#include "absl/strings/str_cat.h"
#include "build_info/build_info_gen.h"

namespace kinex {

absl::string_view BuildVersion() { return KINEX_BUILD_VERSION; }

absl::string_view BuildCommit() { return KINEX_BUILD_COMMIT; }

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", BuildVersion(), " (", BuildCommit(), ")");
}

}  // namespace kinex
