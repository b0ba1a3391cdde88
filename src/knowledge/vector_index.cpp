#include "knowledge/vector_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

// hnswlib 0.6.2 reads the neighbour after the last one of a full link list to compute a prefetch
// address (upstream issues nmslib/hnswlib#107 and #578): a 4-byte read past the list that only
// feeds the prefetch (lists read by loadIndex have no spare byte, so it lands in the next heap
// chunk), which AddressSanitizer and ThreadSanitizer report. In sanitizer builds hnswlib is
// compiled without its SSE code, which is where those prefetches live.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sinan::knowledge {

namespace {

constexpr char kMagic[8] = {'S', 'N', 'H', 'N', 'S', 'W', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;        // magic[8] version:u32 dim:u32 payload_bytes:u64 fnv1a64:u64
constexpr size_t kSummedHeaderBytes = 24;  // the checksum covers the header before it, then the payload
constexpr size_t kInitialCapacity = 1024;

// FNV-1a 64; `h` continues an earlier sum.
uint64_t fnv1a64(const char* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
    for (size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(p[i]);
        h *= 0x100000001b3ull;
    }
    return h;
}

std::string errno_text() { return std::strerror(errno); }

Status write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return Status::error("write failed: " + errno_text());
        p += w;
        n -= static_cast<size_t>(w);
    }
    return Status::ok();
}

// Creates <path>.tmp.<pid>.<n>, a name no other save uses (other threads, other processes on the
// same data directory): saves to one file at once each write their own and rename it into place,
// never into each other's. The file is locked (flock) while its save writes it, which is how
// remove_abandoned_saves tells a live save from one cut short. Returns the descriptor (-1 and
// errno on failure), the name in *tmp.
int create_unique(const std::string& path, std::string* tmp) {
    static std::atomic<uint64_t> next{0};
    for (;;) {
        *tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(next++);
        const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) continue;  // left by a dead process of the same pid
        if (fd >= 0 && ::flock(fd, LOCK_EX) != 0) {
            const int e = errno;
            ::close(fd);
            ::unlink(tmp->c_str());
            errno = e;
            return -1;
        }
        return fd;
    }
}

// Whether `name` is a save's temporary file: it ends in ".tmp.<digits>.<digits>".
bool is_save_temporary(const std::string& name) {
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos) return false;
    const std::string rest = name.substr(at + 5);
    const size_t dot = rest.find('.');
    auto digits = [](std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return dot != std::string::npos && digits(std::string_view(rest).substr(0, dot)) &&
           digits(std::string_view(rest).substr(dot + 1));
}

Result<std::string> read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::error(file.string() + ": cannot open the vector index: " + errno_text());
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Status::error(file.string() + ": cannot read the vector index");
    return bytes;
}

// hnswlib reads and writes only named files: a private temporary file carries its bytes.
class TempFile {
  public:
    TempFile() {
        std::string templ = (std::filesystem::temp_directory_path() / "sinan-hnsw-XXXXXX").string();
        const int fd = ::mkstemp(templ.data());
        if (fd >= 0) {
            ::close(fd);
            path_ = templ;
        }
    }
    ~TempFile() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }  // empty when it could not be created

  private:
    std::string path_;
};

using Heap = std::priority_queue<std::pair<float, int64_t>>;  // (-score, label): top = worst kept

}  // namespace

struct VectorIndex::Impl {
    explicit Impl(size_t dim) : space(dim) {}
    hnswlib::InnerProductSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

VectorIndex::VectorIndex(size_t dim, VectorIndexParams params)
    : dim_(dim), params_(params), impl_(std::make_unique<Impl>(dim)) {
    SINAN_CHECK(dim > 0, "VectorIndex needs a dimension > 0");
    impl_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl_->space, kInitialCapacity, params.m,
                                                                     params.ef_construction, params.seed);
    impl_->graph->setEf(params.ef_search);
}

VectorIndex::VectorIndex(size_t dim, VectorIndexParams params, std::unique_ptr<Impl> impl)
    : dim_(dim), params_(params), impl_(std::move(impl)) {}

VectorIndex::~VectorIndex() = default;

std::vector<float> VectorIndex::normalised(std::span<const float> v) const {
    double norm2 = 0;
    for (float x : v) norm2 += static_cast<double>(x) * x;
    if (!(norm2 > 0) || !std::isfinite(norm2)) return {};
    const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
    std::vector<float> out(v.begin(), v.end());
    for (float& x : out) x *= inv;
    return out;
}

Status VectorIndex::add(int64_t label, std::span<const float> vector) {
    if (vector.size() != dim_) {
        return Status::error("embedding has " + std::to_string(vector.size()) + " dimensions, the index holds " +
                             std::to_string(dim_) + "; embed every chunk with the same model");
    }
    std::vector<float> unit = normalised(vector);
    if (unit.empty()) return Status::error("embedding is zero or not finite; check the embedding model's output");
    auto& g = *impl_->graph;
    const bool was_live = contains(label);
    try {
        if (g.cur_element_count >= g.max_elements_) g.resizeIndex(std::max<size_t>(2 * g.max_elements_, 1024));
        g.addPoint(unit.data(), static_cast<hnswlib::labeltype>(label));
    } catch (const std::exception& e) {
        return Status::error(std::string("vector index: cannot add a vector: ") + e.what());
    }
    if (!was_live) ++n_live_;
    return Status::ok();
}

bool VectorIndex::remove(int64_t label) {
    if (!contains(label)) return false;
    impl_->graph->markDelete(static_cast<hnswlib::labeltype>(label));
    --n_live_;
    return true;
}

bool VectorIndex::contains(int64_t label) const {
    const auto& g = *impl_->graph;
    auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
    return it != g.label_lookup_.end() && !g.isMarkedDeleted(it->second);
}

std::vector<int64_t> VectorIndex::labels() const {
    const auto& g = *impl_->graph;
    std::vector<int64_t> out;
    out.reserve(n_live_);
    for (hnswlib::tableint i = 0; i < g.cur_element_count; ++i)
        if (!g.isMarkedDeleted(i)) out.push_back(static_cast<int64_t>(g.getExternalLabel(i)));
    return out;
}

size_t VectorIndex::n_removed() const { return impl_->graph->cur_element_count - n_live_; }

std::vector<ScoredLabel> VectorIndex::search_exact(std::span<const float> query, size_t k,
                                                   const std::function<bool(int64_t)>& accept) const {
    SINAN_CHECK(query.size() == dim_, "VectorIndex::search: query of the wrong dimension");
    std::vector<float> q = normalised(query);
    if (q.empty() || k == 0) return {};
    const auto& g = *impl_->graph;
    Heap heap;
    for (hnswlib::tableint i = 0; i < g.cur_element_count; ++i) {
        if (g.isMarkedDeleted(i)) continue;
        const auto label = static_cast<int64_t>(g.getExternalLabel(i));
        if (accept && !accept(label)) continue;
        const float d = g.fstdistfunc_(q.data(), g.getDataByInternalId(i), g.dist_func_param_);  // 1 - cos
        const std::pair<float, int64_t> item{d, label};
        if (heap.size() < k) {
            heap.push(item);
        } else if (item < heap.top()) {
            heap.pop();
            heap.push(item);
        }
    }
    std::vector<ScoredLabel> out(heap.size());
    for (size_t i = out.size(); i-- > 0;) {
        out[i] = {heap.top().second, 1.0f - heap.top().first};
        heap.pop();
    }
    return out;
}

std::vector<ScoredLabel> VectorIndex::search(std::span<const float> query, size_t k,
                                             const std::function<bool(int64_t)>& accept) const {
    SINAN_CHECK(query.size() == dim_, "VectorIndex::search: query of the wrong dimension");
    if (k == 0 || n_live_ == 0) return {};
    if (n_live_ < params_.exact_below) return search_exact(query, k, accept);
    std::vector<float> q = normalised(query);
    if (q.empty()) return {};
    const auto& g = *impl_->graph;
    // The graph walk keeps max(ef, fetch) candidates, so fetching ef costs nothing extra and gives
    // the filter room. When fewer than k pass, widen by 4x; past a quarter of the index the walk
    // costs about what a scan does, and the scan is exact.
    size_t fetch = accept ? std::max(k, params_.ef_search) : k;
    for (;;) {
        if (accept && fetch * 4 > n_live_) return search_exact(query, k, accept);
        auto found = g.searchKnn(q.data(), fetch);  // top = farthest
        std::vector<ScoredLabel> out;
        out.reserve(found.size());
        while (!found.empty()) {
            const auto [d, label] = found.top();
            found.pop();
            if (!accept || accept(static_cast<int64_t>(label))) out.push_back({static_cast<int64_t>(label), 1.0f - d});
        }
        std::reverse(out.begin(), out.end());
        if (out.size() >= k || !accept) {
            if (out.size() > k) out.resize(k);
            return out;
        }
        fetch *= 4;
    }
}

Status VectorIndex::save(const std::filesystem::path& file) const {
    TempFile raw;
    if (raw.path().empty()) return Status::error("vector index: cannot create a temporary file: " + errno_text());
    try {
        impl_->graph->saveIndex(raw.path());
    } catch (const std::exception& e) {
        return Status::error(file.string() + ": cannot write the vector index: " + e.what());
    }
    Result<std::string> payload = read_file(raw.path());
    if (!payload.ok()) return payload.status().annotate(file.string() + ": ");

    char header[kHeaderBytes] = {};
    std::memcpy(header, kMagic, 8);
    const uint32_t version = kVersion, dim = static_cast<uint32_t>(dim_);
    const uint64_t n_bytes = payload->size();
    std::memcpy(header + 8, &version, 4);
    std::memcpy(header + 12, &dim, 4);
    std::memcpy(header + 16, &n_bytes, 8);
    const uint64_t sum = fnv1a64(payload->data(), payload->size(), fnv1a64(header, kSummedHeaderBytes));
    std::memcpy(header + 24, &sum, 8);

    const std::string path = file.string();
    std::string tmp;
    const int fd = create_unique(path, &tmp);
    if (fd < 0) return Status::error(tmp + ": cannot create: " + errno_text());
    auto fail = [&](const Status& s) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return s.annotate(tmp + ": ");
    };
    if (Status s = write_all(fd, header, kHeaderBytes); !s.is_ok()) return fail(s);
    if (Status s = write_all(fd, payload->data(), payload->size()); !s.is_ok()) return fail(s);
    if (::fsync(fd) != 0) return fail(Status::error("fsync failed: " + errno_text()));
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return Status::error(tmp + ": close failed: " + errno_text());
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = Status::error(path + ": cannot rename the new vector index into place: " + errno_text());
        ::unlink(tmp.c_str());
        return s;
    }
    const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return Status::error(dir.string() + ": cannot open to sync: " + errno_text());
    const int r = ::fsync(dfd);
    ::close(dfd);
    if (r != 0) return Status::error(dir.string() + ": fsync failed: " + errno_text());
    return Status::ok();
}

size_t VectorIndex::remove_abandoned_saves(const std::filesystem::path& dir, std::chrono::seconds min_age) {
    size_t removed = 0;
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (const std::filesystem::directory_entry& e : std::filesystem::directory_iterator(dir, ec)) {
        if (!e.is_regular_file(ec) || !is_save_temporary(e.path().filename().string())) continue;
        const auto written = e.last_write_time(ec);
        if (ec || now - written < min_age) continue;  // a save may not have locked it yet
        const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(e.path().c_str()) == 0) ++removed;
        ::close(fd);
    }
    return removed;
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::filesystem::path& file, VectorIndexParams params) {
    Result<std::string> bytes = read_file(file);
    if (!bytes.ok()) return bytes.status();
    const std::string& b = *bytes;
    auto corrupt = [&](const std::string& why) {
        return Status::error(file.string() + ": vector index is corrupt (" + why + ")");
    };
    if (b.size() < kHeaderBytes || std::memcmp(b.data(), kMagic, 8) != 0) return corrupt("not a sinan vector index");
    uint32_t version = 0, dim = 0;
    uint64_t n_bytes = 0, sum = 0;
    std::memcpy(&version, b.data() + 8, 4);
    std::memcpy(&dim, b.data() + 12, 4);
    std::memcpy(&n_bytes, b.data() + 16, 8);
    std::memcpy(&sum, b.data() + 24, 8);
    if (version != kVersion) {
        return Status::error(file.string() + ": vector index version " + std::to_string(version) +
                             " is not supported (this build reads version 1)");
    }
    if (dim == 0) return corrupt("dimension 0");
    if (n_bytes != b.size() - kHeaderBytes) return corrupt("truncated or extended");
    if (fnv1a64(b.data() + kHeaderBytes, n_bytes, fnv1a64(b.data(), kSummedHeaderBytes)) != sum)
        return corrupt("checksum mismatch");

    TempFile raw;
    if (raw.path().empty()) return Status::error("vector index: cannot create a temporary file: " + errno_text());
    {
        std::ofstream out(raw.path(), std::ios::binary);
        out.write(b.data() + kHeaderBytes, static_cast<std::streamsize>(n_bytes));
        if (!out) return Status::error(raw.path() + ": cannot write a temporary copy of " + file.string());
    }
    auto impl = std::make_unique<Impl>(dim);
    // hnswlib 0.6.2's loading constructor leaves num_deleted_ uninitialised before counting into
    // it, and its destructor frees whatever the pointers hold: construct empty, zero those, load.
    impl->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl->space);
    auto& g = *impl->graph;
    g.num_deleted_ = 0;
    g.cur_element_count = 0;
    g.data_level0_memory_ = nullptr;
    g.linkLists_ = nullptr;
    g.visited_list_pool_ = nullptr;
    try {
        g.loadIndex(raw.path(), &impl->space);
    } catch (const std::exception& e) {
        g.cur_element_count = 0;  // the destructor then frees only the two arrays (a partial load leaks its lists)
        return corrupt(e.what());
    }
    const size_t per_element = g.maxM0_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint) +
                               dim * sizeof(float) + sizeof(hnswlib::labeltype);
    if (g.size_data_per_element_ != per_element) return corrupt("vector size differs from the header's dimension");
    g.setEf(params.ef_search);
    std::unique_ptr<VectorIndex> index(new VectorIndex(dim, params, std::move(impl)));
    index->params_.m = g.M_;
    index->params_.ef_construction = g.ef_construction_;
    index->n_live_ = g.cur_element_count - g.num_deleted_;
    return index;
}

}  // namespace sinan::knowledge
