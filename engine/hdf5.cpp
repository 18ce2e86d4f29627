#include "engine/hdf5.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <type_traits>
#include <unistd.h>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::engine::h5 {

static_assert(std::is_same_v<Handle::Id, hid_t>, "Handle::Id must be hid_t");
static_assert(std::is_same_v<int, herr_t>, "Handle::Closer must return herr_t");

namespace fs = std::filesystem;

namespace {

/// HDF5 prints its error stack to stderr by default, which would litter the CLI's output and
/// duplicate our exceptions. Called before any HDF5 work (the setting is per thread in
/// thread-safe builds, so it is repeated rather than done once).
void silence_hdf5() noexcept { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

/// The most specific descriptions on HDF5's error stack, innermost failing function first,
/// e.g. "not a group; unable to open group". The outer frames repeat the story in more
/// generic words, so two are enough. A failed open(2) reports its errno text, the useful
/// part of HDF5's long multi-line description, which is used alone.
std::string error_stack_text() {
    std::vector<std::string> lines;
    auto collect = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* out = static_cast<std::vector<std::string>*>(data);
        if (e->desc != nullptr && *e->desc != '\0') out->emplace_back(e->desc);
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &lines);
    H5Eclear2(H5E_DEFAULT);
    static constexpr std::string_view errno_marker = "error message = '";
    for (const auto& line : lines) {
        if (auto at = line.find(errno_marker); at != std::string::npos) {
            at += errno_marker.size();
            return line.substr(at, line.find('\'', at) - at);
        }
    }
    std::string text;
    std::size_t used = 0;
    for (const auto& full : lines) {
        const std::string line = full.substr(0, full.find('\n'));
        if (text.find(line) != std::string::npos) continue;
        if (!text.empty()) text += "; ";
        text += line;
        if (++used == 2) break;
    }
    return text;
}

/// The one place HDF5 failures become exceptions.
[[noreturn]] void fail(std::string_view action, std::string_view where) {
    const std::string detail = error_stack_text();
    throw StorageError(detail.empty() ? fmt::format("HDF5: cannot {} {}", action, where)
                                      : fmt::format("HDF5: cannot {} {}: {}", action, where, detail));
}

Handle own(hid_t id, Handle::Closer close, std::string_view action, std::string_view where) {
    if (id < 0) fail(action, where);
    return Handle(id, close);
}

void check(herr_t rc, std::string_view action, std::string_view where) {
    if (rc < 0) fail(action, where);
}

int close_property_list(hid_t id) { return H5Pclose(id); }

/// Link creation: UTF-8 names ("ΔE") and intermediate groups created on the way.
Handle link_creation_properties(std::string_view where) {
    Handle lcpl = own(H5Pcreate(H5P_LINK_CREATE), close_property_list, "create link properties for", where);
    check(H5Pset_create_intermediate_group(lcpl.id(), 1), "configure link properties for", where);
    check(H5Pset_char_encoding(lcpl.id(), H5T_CSET_UTF8), "configure link properties for", where);
    return lcpl;
}

Handle attribute_creation_properties(std::string_view where) {
    Handle acpl = own(H5Pcreate(H5P_ATTRIBUTE_CREATE), close_property_list, "create attribute properties for", where);
    check(H5Pset_char_encoding(acpl.id(), H5T_CSET_UTF8), "configure attribute properties for", where);
    return acpl;
}

Handle string_type(std::size_t size, std::string_view where) {
    Handle type = own(H5Tcopy(H5T_C_S1), H5Tclose, "create a string type for", where);
    check(H5Tset_size(type.id(), size), "size the string type for", where);
    check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "set UTF-8 on the string type for", where);
    if (size != H5T_VARIABLE) check(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), "pad the string type for", where);
    return type;
}

Handle scalar_space(std::string_view where) {
    return own(H5Screate(H5S_SCALAR), H5Sclose, "create a scalar dataspace for", where);
}

Handle simple_space(std::span<const hsize_t> dims, std::string_view where) {
    return own(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
               "create a dataspace for", where);
}

// Datasets and attributes are read the same way apart from three calls; this keeps one
// implementation of the type checks and the string handling for both.
struct Source {
    hid_t id;
    bool attribute;
    std::string where;

    Handle type() const {
        return own(attribute ? H5Aget_type(id) : H5Dget_type(id), H5Tclose, "get the type of", where);
    }
    Handle space() const {
        return own(attribute ? H5Aget_space(id) : H5Dget_space(id), H5Sclose, "get the dataspace of", where);
    }
    void read(hid_t memory_type, void* buffer) const {
        check(attribute ? H5Aread(id, memory_type, buffer)
                        : H5Dread(id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer),
              "read", where);
    }
    std::vector<std::size_t> shape() const {
        Handle s = space();
        const int rank = H5Sget_simple_extent_ndims(s.id());
        if (rank < 0) fail("get the rank of", where);
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        if (rank > 0 && H5Sget_simple_extent_dims(s.id(), dims.data(), nullptr) < 0)
            fail("get the extent of", where);
        return {dims.begin(), dims.end()};
    }
    std::size_t elements() const {
        Handle s = space();
        const hssize_t n = H5Sget_simple_extent_npoints(s.id());
        if (n < 0) fail("count the elements of", where);
        return static_cast<std::size_t>(n);
    }
    H5T_class_t type_class() const {
        Handle t = type();
        const H5T_class_t c = H5Tget_class(t.id());
        if (c == H5T_NO_CLASS) fail("get the type class of", where);
        return c;
    }

    void require_rank(std::size_t rank) const {
        const auto s = shape();
        if (s.size() != rank)
            throw StorageError(fmt::format("HDF5: {} has rank {}, expected {}", where, s.size(), rank));
    }
    void require_one_element() const {
        if (const std::size_t n = elements(); n != 1)
            throw StorageError(fmt::format("HDF5: {} holds {} elements, expected a scalar", where, n));
    }
    void require_numeric(bool integer_only) const {
        const H5T_class_t c = type_class();
        if (c == H5T_INTEGER || (c == H5T_FLOAT && !integer_only)) return;
        throw StorageError(fmt::format("HDF5: {} is not {}", where, integer_only ? "an integer" : "numeric"));
    }

    template <typename T>
    std::vector<T> read_numbers(hid_t memory_type, bool integer_only) const {
        require_numeric(integer_only);
        std::vector<T> values(elements());
        if (!values.empty()) read(memory_type, values.data());  // HDF5 converts int ↔ double
        return values;
    }

    std::vector<std::string> read_strings() const {
        Handle file_type = type();
        if (H5Tget_class(file_type.id()) != H5T_STRING)
            throw StorageError(fmt::format("HDF5: {} does not hold strings", where));
        const std::size_t n = elements();
        std::vector<std::string> out;
        if (n == 0) return out;
        out.reserve(n);
        const htri_t variable = H5Tis_variable_str(file_type.id());
        if (variable < 0) fail("inspect the string type of", where);
        const H5T_cset_t cset = H5Tget_cset(file_type.id());
        if (variable > 0) {
            Handle memory_type = string_type(H5T_VARIABLE, where);
            if (cset != H5T_CSET_ERROR) check(H5Tset_cset(memory_type.id(), cset), "set the character set for", where);
            std::vector<char*> pointers(n, nullptr);
            read(memory_type.id(), pointers.data());
            // HDF5 allocated the strings: give them back even if copying them throws.
            struct Reclaim {
                hid_t type, space;
                std::vector<char*>& buffer;
                ~Reclaim() {
#if H5_VERSION_GE(1, 12, 0)
                    H5Treclaim(type, space, H5P_DEFAULT, buffer.data());
#else
                    H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer.data());
#endif
                }
            };
            Handle memory_space = space();
            Reclaim reclaim{memory_type.id(), memory_space.id(), pointers};
            for (const char* p : pointers) out.emplace_back(p != nullptr ? p : "");
        } else {
            const std::size_t width = H5Tget_size(file_type.id());
            if (width == 0) fail("get the string size of", where);
            const H5T_str_t pad = H5Tget_strpad(file_type.id());
            Handle memory_type = own(H5Tcopy(file_type.id()), H5Tclose, "copy the string type of", where);
            std::vector<char> buffer(n * width);
            read(memory_type.id(), buffer.data());
            for (std::size_t i = 0; i < n; ++i) {
                std::string_view cell(buffer.data() + i * width, width);
                cell = cell.substr(0, cell.find('\0'));
                if (pad == H5T_STR_SPACEPAD) cell = cell.substr(0, cell.find_last_not_of(' ') + 1);
                out.emplace_back(cell);
            }
        }
        return out;
    }
};

Source source_of(const Object& object, bool attribute, std::string where) {
    return Source{object.id(), attribute, std::move(where)};
}

void sync_path(const fs::path& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        if (directory) return;  // see below: the folder sync is best effort
        throw StorageError(fmt::format("cannot open '{}' to sync it: {}", path.string(), std::strerror(errno)));
    }
    const int rc = ::fsync(fd);
    const int error = errno;
    ::close(fd);
    // A failed fsync of the file means its data may not be on disk: never rename it into
    // place. The folder's fsync only makes the rename itself durable and is refused by some
    // file systems (EINVAL), so its failure is not an error.
    if (rc != 0 && !directory)
        throw StorageError(fmt::format("cannot sync '{}' to disk: {}", path.string(), std::strerror(error)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handle

Handle::Handle(Handle&& other) noexcept
    : id_(std::exchange(other.id_, -1)), close_(std::exchange(other.close_, nullptr)) {}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = std::exchange(other.id_, -1);
        close_ = std::exchange(other.close_, nullptr);
    }
    return *this;
}

void Handle::reset() noexcept {
    if (id_ >= 0 && close_ != nullptr) {
        if (close_(id_) < 0) H5Eclear2(H5E_DEFAULT);  // nothing to report from a destructor
    }
    id_ = -1;
    close_ = nullptr;
}

void Handle::close(std::string_view what) {
    if (id_ < 0) return;
    const herr_t rc = close_ != nullptr ? close_(id_) : 0;
    id_ = -1;
    close_ = nullptr;
    check(rc, "close", what);
}

// ---------------------------------------------------------------------------------------------
// Object: attributes

std::string Object::where(std::string_view child) const {
    return fmt::format("{}:{}", file_, child.empty() ? path_ : child_path(child));
}

std::string Object::child_path(std::string_view name) const {
    if (!name.empty() && name.front() == '/') return std::string(name);
    return path_ == "/" ? fmt::format("/{}", name) : fmt::format("{}/{}", path_, name);
}

namespace {

std::string attribute_where(const Object& object, std::string_view name) {
    return fmt::format("attribute '{}' of {}:{}", name, object.file_name(), object.path());
}

void write_attribute(const Object& object, std::string_view name, hid_t file_type, hid_t memory_type,
                     const void* value) {
    const std::string where = attribute_where(object, name);
    const std::string key(name);
    const htri_t exists = H5Aexists(object.id(), key.c_str());
    if (exists < 0) fail("look up", where);
    if (exists > 0) check(H5Adelete(object.id(), key.c_str()), "replace", where);
    Handle space = scalar_space(where);
    Handle acpl = attribute_creation_properties(where);
    Handle attribute = own(H5Acreate2(object.id(), key.c_str(), file_type, space.id(), acpl.id(), H5P_DEFAULT),
                           H5Aclose, "create", where);
    check(H5Awrite(attribute.id(), memory_type, value), "write", where);
    attribute.close(where);
}

Handle open_attribute(const Object& object, std::string_view name) {
    const std::string where = attribute_where(object, name);
    const std::string key(name);
    const htri_t exists = H5Aexists(object.id(), key.c_str());
    if (exists < 0) fail("look up", where);
    if (exists == 0) throw StorageError(fmt::format("HDF5: no {}", where));
    return own(H5Aopen(object.id(), key.c_str(), H5P_DEFAULT), H5Aclose, "open", where);
}

}  // namespace

void Object::set_attribute(std::string_view name, std::string_view value) {
    const std::string where = attribute_where(*this, name);
    Handle type = string_type(H5T_VARIABLE, where);
    const std::string text(value);
    const char* pointer = text.c_str();
    write_attribute(*this, name, type.id(), type.id(), &pointer);
}

void Object::set_attribute(std::string_view name, double value) {
    write_attribute(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void Object::set_attribute_int64(std::string_view name, std::int64_t value) {
    write_attribute(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

bool Object::has_attribute(std::string_view name) const {
    const std::string key(name);
    const htri_t exists = H5Aexists(id(), key.c_str());
    if (exists < 0) fail("look up", attribute_where(*this, name));
    return exists > 0;
}

std::vector<std::string> Object::attribute_names() const {
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    const herr_t rc = H5Oget_info3(id(), &info, H5O_INFO_NUM_ATTRS);
#elif H5_VERSION_GE(1, 10, 3)
    const herr_t rc = H5Oget_info2(id(), &info, H5O_INFO_NUM_ATTRS);
#else
    const herr_t rc = H5Oget_info(id(), &info);
#endif
    check(rc, "list the attributes of", where());
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
        const ssize_t size = H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (size < 0) fail("list the attributes of", where());
        std::string name(static_cast<std::size_t>(size) + 1, '\0');
        if (H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) < 0)
            fail("list the attributes of", where());
        name.resize(static_cast<std::size_t>(size));
        names.push_back(std::move(name));
    }
    return names;
}

std::string Object::attribute_string(std::string_view name) const {
    Handle attribute = open_attribute(*this, name);
    const Source source{attribute.id(), true, attribute_where(*this, name)};
    source.require_one_element();
    return source.read_strings().front();
}

double Object::attribute_double(std::string_view name) const {
    Handle attribute = open_attribute(*this, name);
    const Source source{attribute.id(), true, attribute_where(*this, name)};
    source.require_one_element();
    return source.read_numbers<double>(H5T_NATIVE_DOUBLE, false).front();
}

std::int64_t Object::attribute_int64(std::string_view name) const {
    Handle attribute = open_attribute(*this, name);
    const Source source{attribute.id(), true, attribute_where(*this, name)};
    source.require_one_element();
    return source.read_numbers<std::int64_t>(H5T_NATIVE_INT64, true).front();
}

// ---------------------------------------------------------------------------------------------
// Dataset: reading

std::vector<std::size_t> Dataset::shape() const { return source_of(*this, false, where()).shape(); }

bool Dataset::is_string() const { return source_of(*this, false, where()).type_class() == H5T_STRING; }

std::vector<double> Dataset::read_doubles() const {
    const Source source = source_of(*this, false, where());
    source.require_rank(1);
    return source.read_numbers<double>(H5T_NATIVE_DOUBLE, false);
}

Matrix Dataset::read_matrix() const {
    const Source source = source_of(*this, false, where());
    source.require_rank(2);
    const auto dims = source.shape();
    return Matrix{dims[0], dims[1], source.read_numbers<double>(H5T_NATIVE_DOUBLE, false)};
}

std::vector<std::int64_t> Dataset::read_int64s() const {
    const Source source = source_of(*this, false, where());
    source.require_rank(1);
    return source.read_numbers<std::int64_t>(H5T_NATIVE_INT64, true);
}

std::vector<std::string> Dataset::read_strings() const {
    const Source source = source_of(*this, false, where());
    source.require_rank(1);
    return source.read_strings();
}

double Dataset::read_scalar_double() const {
    const Source source = source_of(*this, false, where());
    source.require_one_element();
    return source.read_numbers<double>(H5T_NATIVE_DOUBLE, false).front();
}

std::string Dataset::read_scalar_string() const {
    const Source source = source_of(*this, false, where());
    source.require_one_element();
    return source.read_strings().front();
}

// ---------------------------------------------------------------------------------------------
// Group

Group Group::create_group(std::string_view name) {
    const std::string location = where(name);
    Handle lcpl = link_creation_properties(location);
    const std::string key(name);
    return Group(own(H5Gcreate2(id(), key.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                     "create group", location),
                 file_, child_path(name));
}

Group Group::open_group(std::string_view name) const {
    const std::string key(name);
    return Group(own(H5Gopen2(id(), key.c_str(), H5P_DEFAULT), H5Gclose, "open group", where(name)), file_,
                 child_path(name));
}

Dataset Group::open_dataset(std::string_view name) const {
    const std::string key(name);
    return Dataset(own(H5Dopen2(id(), key.c_str(), H5P_DEFAULT), H5Dclose, "open dataset", where(name)), file_,
                   child_path(name));
}

bool Group::has(std::string_view name) const {
    // H5Lexists fails, rather than answering false, when an intermediate link is missing:
    // test "a", then "a/b", then "a/b/c".
    std::string prefix;
    std::size_t start = 0;
    if (!name.empty() && name.front() == '/') {
        prefix = "/";
        start = 1;
    }
    bool any = false;
    while (start <= name.size()) {
        const std::size_t slash = std::min(name.find('/', start), name.size());
        const std::string_view part = name.substr(start, slash - start);
        start = slash + 1;
        if (part.empty()) continue;
        if (!prefix.empty() && prefix.back() != '/') prefix += '/';
        prefix += part;
        any = true;
        const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
        if (exists <= 0) {
            H5Eclear2(H5E_DEFAULT);  // e.g. a dataset used as a folder: simply "not there"
            return false;
        }
    }
    return any;
}

namespace {
H5I_type_t object_type(hid_t location, std::string_view name) {
    const std::string key(name);
    const hid_t object = H5Oopen(location, key.c_str(), H5P_DEFAULT);
    if (object < 0) {
        H5Eclear2(H5E_DEFAULT);
        return H5I_BADID;
    }
    const H5I_type_t type = H5Iget_type(object);
    H5Oclose(object);
    return type;
}
}  // namespace

bool Group::is_group(std::string_view name) const { return has(name) && object_type(id(), name) == H5I_GROUP; }

bool Group::is_dataset(std::string_view name) const { return has(name) && object_type(id(), name) == H5I_DATASET; }

std::vector<std::string> Group::names() const {
    H5G_info_t info;
    check(H5Gget_info(id(), &info), "list the members of", where());
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t size = H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (size < 0) fail("list the members of", where());
        std::string name(static_cast<std::size_t>(size) + 1, '\0');
        if (H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) < 0)
            fail("list the members of", where());
        name.resize(static_cast<std::size_t>(size));
        names.push_back(std::move(name));
    }
    return names;
}

Dataset Group::create_dataset(std::string_view name, Handle::Id file_type, Handle::Id space) {
    const std::string location = where(name);
    const std::string key(name);
    if (has(name)) throw StorageError(fmt::format("HDF5: cannot create dataset {}: it already exists", location));
    Handle lcpl = link_creation_properties(location);
    return Dataset(own(H5Dcreate2(id(), key.c_str(), file_type, space, lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose, "create dataset", location),
                   file_, child_path(name));
}

namespace {
void write_all(const Dataset& dataset, hid_t memory_type, const void* data, bool empty) {
    // An empty dataset needs no write, and HDF5 rejects the null buffer an empty span may carry.
    if (empty) return;
    const std::string location = fmt::format("{}:{}", dataset.file_name(), dataset.path());
    // Every write that converts types (strings always do) makes HDF5 allocate and zero a
    // conversion buffer of its default 1 MiB, and a background buffer as large: for the
    // thousands of small datasets of a results.h5 that was most of the time of writing it
    // (bench/engine). A buffer sized to the data converts the same values.
    Handle space = own(H5Dget_space(dataset.id()), H5Sclose, "get the dataspace of", location);
    Handle file_type = own(H5Dget_type(dataset.id()), H5Tclose, "get the type of", location);
    const hssize_t points = H5Sget_simple_extent_npoints(space.id());
    const std::size_t element = std::max(H5Tget_size(memory_type), H5Tget_size(file_type.id()));
    if (points < 0 || element == 0) fail("size the write of", location);
    constexpr std::size_t kDefaultBuffer = std::size_t{1} << 20;  // HDF5's default
    // HDF5 wants room for a few elements in its own (possibly larger, e.g. on-disk vlen) form.
    const std::size_t minimum = std::max<std::size_t>(4096, 8 * element);
    const std::size_t bytes = std::max(minimum, std::min(static_cast<std::size_t>(points) * element, kDefaultBuffer));
    Handle transfer = own(H5Pcreate(H5P_DATASET_XFER), close_property_list, "create transfer properties for", location);
    check(H5Pset_buffer(transfer.id(), bytes, nullptr, nullptr), "size the conversion buffer for", location);
    check(H5Dwrite(dataset.id(), memory_type, H5S_ALL, H5S_ALL, transfer.id(), data), "write", location);
}
}  // namespace

Dataset Group::write_doubles(std::string_view name, std::span<const double> values) {
    const hsize_t dims[] = {values.size()};
    Handle space = simple_space(dims, where(name));
    Dataset dataset = create_dataset(name, H5T_IEEE_F64LE, space.id());
    write_all(dataset, H5T_NATIVE_DOUBLE, values.data(), values.empty());
    return dataset;
}

Dataset Group::write_matrix(std::string_view name, std::span<const double> row_major, std::size_t rows,
                            std::size_t cols) {
    if (row_major.size() != rows * cols)
        throw StorageError(fmt::format("HDF5: cannot write {}: {} values given for a {}×{} matrix", where(name),
                                       row_major.size(), rows, cols));
    const hsize_t dims[] = {rows, cols};
    Handle space = simple_space(dims, where(name));
    Dataset dataset = create_dataset(name, H5T_IEEE_F64LE, space.id());
    write_all(dataset, H5T_NATIVE_DOUBLE, row_major.data(), row_major.empty());
    return dataset;
}

Dataset Group::write_int64s(std::string_view name, std::span<const std::int64_t> values) {
    const hsize_t dims[] = {values.size()};
    Handle space = simple_space(dims, where(name));
    Dataset dataset = create_dataset(name, H5T_STD_I64LE, space.id());
    write_all(dataset, H5T_NATIVE_INT64, values.data(), values.empty());
    return dataset;
}

Dataset Group::write_strings(std::string_view name, const std::vector<std::string>& values, StringLayout layout) {
    const std::string location = where(name);
    const hsize_t dims[] = {values.size()};
    Handle space = simple_space(dims, location);
    if (layout == StringLayout::Variable) {
        Handle type = string_type(H5T_VARIABLE, location);
        std::vector<const char*> pointers;
        pointers.reserve(values.size());
        for (const auto& v : values) pointers.push_back(v.c_str());
        Dataset dataset = create_dataset(name, type.id(), space.id());
        write_all(dataset, type.id(), pointers.data(), values.empty());
        return dataset;
    }
    std::size_t width = 1;  // HDF5 refuses zero-sized string types
    for (const auto& v : values) width = std::max(width, std::strlen(v.c_str()));
    Handle type = string_type(width, location);
    std::vector<char> buffer(values.size() * width, '\0');
    for (std::size_t i = 0; i < values.size(); ++i)
        std::memcpy(buffer.data() + i * width, values[i].c_str(), std::strlen(values[i].c_str()));
    Dataset dataset = create_dataset(name, type.id(), space.id());
    write_all(dataset, type.id(), buffer.data(), values.empty());
    return dataset;
}

Dataset Group::write_scalar(std::string_view name, double value) {
    Handle space = scalar_space(where(name));
    Dataset dataset = create_dataset(name, H5T_IEEE_F64LE, space.id());
    write_all(dataset, H5T_NATIVE_DOUBLE, &value, false);
    return dataset;
}

Dataset Group::write_scalar(std::string_view name, std::string_view value) {
    const std::string location = where(name);
    Handle space = scalar_space(location);
    Handle type = string_type(H5T_VARIABLE, location);
    const std::string text(value);
    const char* pointer = text.c_str();
    Dataset dataset = create_dataset(name, type.id(), space.id());
    write_all(dataset, type.id(), &pointer, false);
    return dataset;
}

// ---------------------------------------------------------------------------------------------
// File

File File::create(const fs::path& path) {
    silence_hdf5();
    const std::string name = path.string();
    return File(own(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, "create file",
                    fmt::format("'{}'", name)),
                name);
}

File File::open_read(const fs::path& path) {
    silence_hdf5();
    const std::string name = path.string();
    return File(own(H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open file",
                    fmt::format("'{}'", name)),
                name);
}

void File::close() {
    if (!handle_) return;
    // Objects opened through this file id, the file itself included.
    const ssize_t open = H5Fget_obj_count(id(), H5F_OBJ_ALL | H5F_OBJ_LOCAL);
    if (open < 0) fail("count the open objects of", fmt::format("'{}'", file_));
    if (open > 1)
        throw StorageError(fmt::format("HDF5: cannot close '{}': {} group(s), dataset(s) or attribute(s) "
                                       "from it are still open",
                                       file_, open - 1));
    handle_.close(fmt::format("file '{}'", file_));
}

// ---------------------------------------------------------------------------------------------

void write_atomically(const fs::path& target, const std::function<void(File&)>& fill) {
    const fs::path temporary = fs::path(target.string() + ".tmp-" + std::to_string(::getpid()));
    try {
        {
            File file = File::create(temporary);
            fill(file);
            file.close();
        }
        sync_path(temporary, false);
        if (::rename(temporary.c_str(), target.c_str()) != 0)
            throw StorageError(fmt::format("cannot rename '{}' to '{}': {}", temporary.string(), target.string(),
                                           std::strerror(errno)));
        const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
        sync_path(folder, true);
    } catch (...) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
        throw;
    }
}

}  // namespace interphase::engine::h5
