#include "reranker_fixture.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace sinan::test {

namespace {

namespace fs = std::filesystem;

}  // namespace

std::vector<float> pseudo_random(size_t n, uint64_t seed, float scale) {
    std::vector<float> v(n);
    uint64_t s = seed;
    for (float& x : v) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x = (static_cast<float>(z >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f) * scale;
    }
    return v;
}

void add_f32(gguf::Writer& w, const char* name, std::vector<uint64_t> shape, const std::vector<float>& values) {
    w.add_tensor(name, gguf::TensorType::F32, std::move(shape),
                 std::span(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)));
}

std::string bert_tiny_path() { return (fs::path(SINAN_SHARED_DIR) / "models" / "bert-tiny-f32.gguf").string(); }

std::string write_reranker_fixture(const std::string& out_path, bool with_head) {
    Result<gguf::File> f = gguf::File::open(bert_tiny_path());
    if (!f.ok()) return f.message();
    gguf::Writer w;
    for (const gguf::KeyValue& kv : f->metadata())
        if (kv.key != "general.alignment") w.set_value(kv.key, kv.value);
    w.set_string("general.name", "bert-tiny-reranker");
    w.set_u32("bert.pooling_type", 4);
    for (const gguf::TensorInfo& t : f->tensors()) w.add_tensor(t.name, t.type, t.shape, std::span(t.data, t.n_bytes));
    if (with_head) {
        const std::optional<int64_t> n_embd = f->get_int("bert.embedding_length");
        if (!n_embd) return "bert.embedding_length is missing";
        const uint64_t d = static_cast<uint64_t>(*n_embd);
        // Scales that keep tanh's input around 1 and the score around 1: neither saturated nor flat.
        add_f32(w, "cls.weight", {d, d}, pseudo_random(d * d, 1, 0.3f));
        add_f32(w, "cls.bias", {d}, pseudo_random(d, 2, 0.1f));
        add_f32(w, "cls.output.weight", {d, 1}, pseudo_random(d, 3, 0.3f));
        add_f32(w, "cls.output.bias", {1}, {0.05f});
    }
    Status s = w.write(out_path);
    return s.is_ok() ? "" : s.message();
}

std::string reranker_fixture() {
    static const std::string path = [] {
        if (!fs::exists(bert_tiny_path())) return std::string();
        static const fs::path dir = fs::temp_directory_path() / ("sinan-reranker-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(dir, ec);
        });
        const std::string p = (dir / "bert-tiny-reranker.gguf").string();
        if (std::string why = write_reranker_fixture(p); !why.empty()) {
            std::fprintf(stderr, "cannot write the reranker fixture %s: %s\n", p.c_str(), why.c_str());
            std::abort();
        }
        return p;
    }();
    return path;
}

std::optional<nlohmann::json> run_python_reference(const std::string& script, const std::string& model,
                                                   const nlohmann::json& input, std::string* skip, std::string* error) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(model).parent_path();
    const fs::path in_path = dir / (fs::path(script).stem().string() + ".in.json");
    const fs::path out_path = dir / (fs::path(script).stem().string() + ".out.json");
    std::ofstream(in_path) << input.dump();
    const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const std::string cmd =
        python + " '" + script + "' '" + model + "' < '" + in_path.string() + "' > '" + out_path.string() + "'";
    const int rc = std::system(cmd.c_str());
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127) {
        *skip = "python3 is not available to run " + script;
        return std::nullopt;
    }
    if (WEXITSTATUS(rc) == 77) {
        *skip = "python3-numpy is not installed (apt-get install python3-numpy)";
        return std::nullopt;
    }
    if (WEXITSTATUS(rc) != 0) {
        *error = cmd + " exited with " + std::to_string(WEXITSTATUS(rc));
        return std::nullopt;
    }
    std::ifstream out(out_path);
    nlohmann::json parsed = nlohmann::json::parse(out, nullptr, false);
    if (parsed.is_discarded()) {
        *error = out_path.string() + ": not JSON";
        return std::nullopt;
    }
    return parsed;
}

}  // namespace sinan::test
