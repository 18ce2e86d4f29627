// Reading YAML input files (workflows, cluster profiles) with FILE:LINE and the field in every
// error: the base that each file format's reader extends with its own typed getters.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::yaml {

class Reader {
public:
    explicit Reader(std::string file) : file_(std::move(file)) {}

    /// "FILE:LINE" of a node (just FILE when the node has no position).
    std::string where(const YAML::Node& n) const {
        const auto m = n.Mark();
        return m.line >= 0 ? fmt::format("{}:{}", file_, m.line + 1) : file_;
    }
    [[noreturn]] void fail(const YAML::Node& n, const std::string& field, const std::string& msg) const {
        throw InputError(where(n), field, msg);
    }
    /// `map` must be a mapping whose keys are all in `allowed` (else: "did you mean").
    void only_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& allowed) const {
        if (!map.IsMap()) fail(map, path, "must be a mapping");
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
                fail(kv.first, path.empty() ? key : path + "." + key, text::unknown_name_message("key", key, allowed));
        }
    }
    const std::string& file() const { return file_; }

private:
    std::string file_;
};

}  // namespace interphase::yaml
