// RAII over the HDF5 C API for results.h5, the file users and their scripts (h5py) read.
//
// Each HDF5 id is owned by a Handle that knows its close function; File, Group and Dataset
// add the operations the engine needs: groups, 1-D and 2-D double datasets (row-major, e.g.
// N×3 positions), 1-D int64 and string datasets, scalars, and string/double/int64 attributes,
// written so h5py reads them natively (UTF-8 strings, little-endian IEEE doubles). HDF5's own
// error printing is silenced; every failing call becomes interphase::StorageError naming the
// file and object path. write_atomically() replaces a file so a crash never leaves it
// half-written (docs/engine-storage.md).
//
// This header does not include hdf5.h: users of the engine library need no HDF5 include path.
// Not thread-safe (neither is Debian's serial HDF5 build): one thread writes results.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace interphase::engine::h5 {

/// Owns one HDF5 identifier (hid_t) and closes it with the matching H5?close function.
class Handle {
public:
    using Id = std::int64_t;          ///< hid_t (checked against hdf5.h in hdf5.cpp)
    using Closer = int (*)(Id);       ///< H5Fclose, H5Gclose, H5Dclose, H5Sclose, H5Tclose, H5Aclose, H5Pclose

    Handle() noexcept = default;
    Handle(Id id, Closer closer) noexcept : id_(id), close_(closer) {}
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    Id id() const noexcept { return id_; }
    bool valid() const noexcept { return id_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    /// Closes now, ignoring failure (as the destructor does).
    void reset() noexcept;
    /// Closes now; throws StorageError when HDF5 reports a failure (e.g. a file not flushed).
    void close(std::string_view what);

private:
    Id id_ = -1;
    Closer close_ = nullptr;
};

/// A 2-D dataset read back: `values` in row-major order.
struct Matrix {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<double> values;
    double operator()(std::size_t row, std::size_t col) const { return values.at(row * cols + col); }
};

/// How write_strings stores text: variable-length (h5py: str via .asstr(), the default) or
/// fixed-length, padded to the longest string (numpy 'S' arrays; some readers want it).
enum class StringLayout { Variable, Fixed };

/// Something attributes can hang on: a file (its root group), a group or a dataset.
class Object {
public:
    Handle::Id id() const noexcept { return handle_.id(); }
    /// The object's path inside the file: "/" for the file, "/bulk/Li" for a group.
    const std::string& path() const noexcept { return path_; }
    const std::string& file_name() const noexcept { return file_; }

    /// Attributes are scalars; setting one that exists replaces it.
    void set_attribute(std::string_view name, std::string_view value);
    void set_attribute(std::string_view name, const std::string& value) { set_attribute(name, std::string_view(value)); }
    void set_attribute(std::string_view name, const char* value) { set_attribute(name, std::string_view(value)); }
    void set_attribute(std::string_view name, double value);
    template <std::integral T>
    void set_attribute(std::string_view name, T value) { set_attribute_int64(name, static_cast<std::int64_t>(value)); }
    void set_attribute_int64(std::string_view name, std::int64_t value);

    bool has_attribute(std::string_view name) const;
    std::vector<std::string> attribute_names() const;
    /// Reads a string attribute, variable- or fixed-length.
    std::string attribute_string(std::string_view name) const;
    /// Reads a numeric attribute (integers are converted).
    double attribute_double(std::string_view name) const;
    /// Reads an integer attribute; a floating-point one is refused rather than truncated.
    std::int64_t attribute_int64(std::string_view name) const;

protected:
    Object(Handle handle, std::string file, std::string path)
        : handle_(std::move(handle)), file_(std::move(file)), path_(std::move(path)) {}
    /// "file.h5:/group/name" for error messages.
    std::string where(std::string_view child = {}) const;
    std::string child_path(std::string_view name) const;

    Handle handle_;
    std::string file_;
    std::string path_;
};

class Dataset : public Object {
public:
    /// Extent per dimension: {} for a scalar, {n} for 1-D, {rows, cols} for 2-D.
    std::vector<std::size_t> shape() const;
    bool is_string() const;

    std::vector<double> read_doubles() const;        ///< 1-D, numeric
    Matrix read_matrix() const;                      ///< 2-D, numeric
    std::vector<std::int64_t> read_int64s() const;   ///< 1-D, integer
    std::vector<std::string> read_strings() const;   ///< 1-D, variable- or fixed-length
    double read_scalar_double() const;               ///< exactly one numeric element
    std::string read_scalar_string() const;          ///< exactly one string element

private:
    friend class Group;
    Dataset(Handle handle, std::string file, std::string path)
        : Object(std::move(handle), std::move(file), std::move(path)) {}
};

class Group : public Object {
public:
    /// Creates a group; intermediate groups in "a/b/c" are created too.
    Group create_group(std::string_view name);
    Group open_group(std::string_view name) const;
    Dataset open_dataset(std::string_view name) const;
    /// True if a link `name` (possibly "a/b/c") exists below this group.
    bool has(std::string_view name) const;
    bool is_group(std::string_view name) const;
    bool is_dataset(std::string_view name) const;
    /// Names of the direct members, in name order.
    std::vector<std::string> names() const;

    // Writing: each returns the new dataset, for attributes (units, descriptions). Writing a
    // name that exists is an error: results files are written whole (write_atomically).
    Dataset write_doubles(std::string_view name, std::span<const double> values);
    /// `row_major` holds rows × cols values, e.g. N×3 Cartesian positions in Å.
    Dataset write_matrix(std::string_view name, std::span<const double> row_major, std::size_t rows,
                         std::size_t cols);
    Dataset write_int64s(std::string_view name, std::span<const std::int64_t> values);
    /// UTF-8 text; a string ends at its first NUL byte.
    Dataset write_strings(std::string_view name, const std::vector<std::string>& values,
                          StringLayout layout = StringLayout::Variable);
    Dataset write_scalar(std::string_view name, double value);
    Dataset write_scalar(std::string_view name, std::string_view value);
    Dataset write_scalar(std::string_view name, const char* value) { return write_scalar(name, std::string_view(value)); }

protected:
    Group(Handle handle, std::string file, std::string path)
        : Object(std::move(handle), std::move(file), std::move(path)) {}

private:
    Dataset create_dataset(std::string_view name, Handle::Id file_type, Handle::Id space);
};

/// An HDF5 file; as a Group it is the root group "/".
class File : public Group {
public:
    /// Creates `path`, replacing an existing file (H5F_ACC_TRUNC).
    static File create(const std::filesystem::path& path);
    static File open_read(const std::filesystem::path& path);

    /// Closes the file and reports failure. Every Group and Dataset obtained from it must be
    /// gone by then: HDF5 would otherwise keep the file open (and unflushed) behind our back,
    /// so close() refuses with StorageError instead. The destructor closes silently.
    void close();

private:
    File(Handle handle, std::string file) : Group(std::move(handle), std::move(file), "/") {}
};

/// Writes `target` through `fill`, atomically: `fill` writes into "<target>.tmp-<pid>", which
/// is closed, fsync'ed and renamed over `target` (then the folder is fsync'ed). If anything
/// throws — `fill` included, whose exception propagates unchanged — the temporary file is
/// removed and an existing `target` is left untouched.
void write_atomically(const std::filesystem::path& target, const std::function<void(File&)>& fill);

}  // namespace interphase::engine::h5
