#include "engine/run_settings.hpp"

#include <algorithm>

#include "engine/hash.hpp"

namespace interphase::engine {

bool RetryPolicy::retries(const std::string& reason, int attempts_made) const {
    return attempts_made < max_attempts && std::find(on.begin(), on.end(), reason) != on.end();
}

std::filesystem::path input_copy_path(const std::filesystem::path& copies, const std::filesystem::path& file) {
    const auto key = std::filesystem::absolute(file).lexically_normal().string();
    return copies / sha256_hex(key).substr(0, 16) / file.filename();
}

}  // namespace interphase::engine
