// Task identity: SHA-256 of canonical inputs. Two tasks with the same hash compute the same
// thing, so a finished result is reused. Canonical means: JSON with sorted keys and no
// whitespace; structures wrapped, rounded (1e-6 in fractional coordinates and Å) and with
// atoms sorted, so that atom order and floating-point noise do not change the identity.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "structures/structure.hpp"

namespace interphase::engine {

/// Lower-case hex SHA-256 of bytes (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);

/// Canonical JSON of a structure for hashing: what changes a calculation (lattice, pbc,
/// species, positions, fixed flags), not labels or metadata; atoms sorted.
nlohmann::json canonical_structure(const structures::Structure& s);

/// Replaces every structure-shaped object (has "lattice" and "atoms") inside `j` by its
/// canonical form and rounds floating-point numbers to 10 significant digits.
nlohmann::json canonicalize(const nlohmann::json& j);

/// SHA-256 of canonicalize(j).dump() (nlohmann::json objects keep keys sorted).
std::string content_hash(const nlohmann::json& j);

}  // namespace interphase::engine
