#include "common/files.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>

#include "common/errors.hpp"

namespace interphase {

void write_file_atomically(const std::filesystem::path& target, const std::string& text) {
    const std::filesystem::path tmp = target.string() + ".tmp";
    auto failed = [&](const char* what) {
        const std::string why = errno != 0 ? std::strerror(errno) : "unknown reason";
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        return StorageError(fmt::format("cannot {} {}: {}", what, tmp.string(), why));
    };
    errno = 0;
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) throw failed("create");
    out << text;
    out.close();  // a full disk shows up here at the latest
    if (!out) throw failed("write");
    std::error_code ec;
    std::filesystem::rename(tmp, target, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw StorageError(fmt::format("cannot replace {}: {}", target.string(), ec.message()));
    }
}

}  // namespace interphase
