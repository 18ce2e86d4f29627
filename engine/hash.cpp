#include "engine/hash.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <memory>
#include <openssl/evp.h>

#include "common/errors.hpp"

namespace interphase::engine {

std::string sha256_hex(const std::string& bytes) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1)
        throw Error("OpenSSL SHA-256 failed");
    std::string hex;
    hex.reserve(2 * len);
    for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

namespace {
// Rounds to a grid and maps -0 to 0 so equal values print identically.
double round_to(double x, double step) {
    const double r = std::round(x / step) * step;
    return r == 0.0 ? 0.0 : r;
}

double round_significant(double x) {
    if (x == 0.0 || !std::isfinite(x)) return x;
    const double scale = std::pow(10.0, 9 - static_cast<int>(std::floor(std::log10(std::abs(x)))));
    const double r = std::round(x * scale) / scale;
    return r == 0.0 ? 0.0 : r;
}

bool looks_like_structure(const nlohmann::json& j) {
    return j.is_object() && j.contains("lattice") && j.contains("atoms");
}
}  // namespace

nlohmann::json canonical_structure(const structures::Structure& s) {
    constexpr double kFrac = 1e-6, kLen = 1e-6;
    std::vector<nlohmann::json> atoms;
    atoms.reserve(s.size());
    for (const auto& a : s.atoms()) {
        nlohmann::json f = nlohmann::json::array();
        for (int k = 0; k < 3; ++k) {
            double x = a.frac[k];
            if (s.pbc()[static_cast<std::size_t>(k)]) {
                x = round_to(x - std::floor(x), kFrac);
                if (x >= 1.0) x = 0.0;
            } else {
                x = round_to(x, kFrac);
            }
            f.push_back(x);
        }
        atoms.push_back({a.species, f, a.fixed});
    }
    std::sort(atoms.begin(), atoms.end());
    nlohmann::json lattice = nlohmann::json::array();
    for (int r = 0; r < 3; ++r)
        lattice.push_back({round_to(s.lattice()(r, 0), kLen), round_to(s.lattice()(r, 1), kLen),
                           round_to(s.lattice()(r, 2), kLen)});
    return {{"lattice", lattice}, {"pbc", {s.pbc()[0], s.pbc()[1], s.pbc()[2]}}, {"atoms", atoms}};
}

nlohmann::json canonicalize(const nlohmann::json& j) {
    if (looks_like_structure(j)) return canonical_structure(structures::structure_from_json(j, "hash input"));
    if (j.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, v] : j.items()) out[k] = canonicalize(v);
        return out;
    }
    if (j.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& v : j) out.push_back(canonicalize(v));
        return out;
    }
    if (j.is_number_float()) return round_significant(j.get<double>());
    return j;
}

std::string content_hash(const nlohmann::json& j) { return sha256_hex(canonicalize(j).dump()); }

}  // namespace interphase::engine
