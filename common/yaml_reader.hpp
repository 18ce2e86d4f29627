// Reading YAML input files (workflows, cluster profiles) with FILE:LINE and the field in every
// error: the base that each file format's reader extends with its own typed getters, and
// `load()`, the one way such a file is parsed: bounded in size and in the nodes that aliases
// expand to (a 1 KB "billion laughs" file would otherwise expand to gigabytes when converted),
// with duplicate keys and non-scalar keys rejected (yaml-cpp accepts both silently).
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
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

/// Bounds on a YAML input file. Real workflows and profiles are a few KB with a few hundred
/// nodes; the limits are three orders of magnitude above that.
struct Limits {
    std::size_t max_bytes = 4u << 20;    ///< size of the text
    std::size_t max_nodes = 200000;      ///< nodes visited, every alias expansion counted
};

/// Parses `text` (from `file`, for messages). Throws ParseError for YAML syntax (with the line)
/// and InputError for an oversized text, too many nodes after alias expansion, a key that is not
/// a scalar, or a key given twice in one mapping.
inline YAML::Node load(const std::string& text, const std::string& file, const Limits& limits = {}) {
    if (text.size() > limits.max_bytes)
        throw InputError(file, "", fmt::format("is {} bytes; YAML input files are limited to {} MiB", text.size(),
                                               limits.max_bytes >> 20));
    // Text, before the parser sees it: a NUL or a byte that is not UTF-8 (a UTF-16 file, a
    // binary) otherwise surfaces as a misleading YAML message ("bad file", "unknown escape").
    for (std::size_t i = 0, line = 1; i < text.size();) {
        const std::size_t len = text::utf8_sequence_length(text, i);
        if (len == 0 || text[i] == '\0')
            throw ParseError(file, line,
                             text[i] == '\0'
                                 ? fmt::format("byte {} is a NUL; YAML input must be UTF-8 text", i)
                                 : fmt::format("byte {} (0x{:02x}) is not valid UTF-8; YAML input must be UTF-8 text", i,
                                               static_cast<unsigned char>(text[i])));
        line += text[i] == '\n';
        i += len;
    }
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {  // DeepRecursion (nesting deeper than yaml-cpp allows) included
        throw ParseError(file, static_cast<std::size_t>(e.mark.line + 1), "invalid YAML: " + e.msg);
    } catch (const YAML::Exception& e) {
        throw ParseError(file, static_cast<std::size_t>(e.mark.line + 1), "invalid YAML: " + e.msg);
    }
    // Walk the tree as a consumer would, aliases expanded, but stop counting at the bound: an
    // explicit stack, so that depth costs heap rather than the C++ stack.
    const Reader r(file);
    std::vector<YAML::Node> stack{root};
    std::size_t visited = 0;
    while (!stack.empty()) {
        const YAML::Node n = stack.back();
        stack.pop_back();
        if (++visited > limits.max_nodes)
            r.fail(n, "", fmt::format("expands to more than {} YAML nodes (nested aliases?); input files are "
                                      "limited to that", limits.max_nodes));
        if (n.IsSequence()) {
            for (const auto& v : n) stack.push_back(v);
        } else if (n.IsMap()) {
            std::map<std::string, int> seen;  // key -> its line
            for (const auto& kv : n) {
                if (!kv.first.IsScalar())
                    r.fail(kv.first, "", "a mapping key must be a plain name, not a list or mapping");
                const auto [at, fresh] = seen.emplace(kv.first.Scalar(), kv.first.Mark().line + 1);
                if (!fresh)
                    r.fail(kv.first, kv.first.Scalar(), fmt::format("given twice in one mapping (also on line {})", at->second));
                stack.push_back(kv.second);
            }
        }
    }
    return root;
}

}  // namespace interphase::yaml
