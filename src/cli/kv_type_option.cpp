#include "cli/kv_type_option.h"

#include "cli/commands.h"

namespace sinan::cli {

CLI::Option* add_kv_type_option(CLI::App* cmd, gguf::TensorType* type) {
    return cmd
        ->add_option_function<std::string>(
            "--kv-type",
            [type](const std::string& name) {
                *type = CLI::detail::to_lower(name) == "q8_0" ? gguf::TensorType::Q8_0 : gguf::TensorType::F16;
            },
            "KV cache type: f16, or q8_0 for about half the memory (needs head sizes that are multiples of 32)")
        ->check(CLI::IsMember({"f16", "q8_0"}, CLI::ignore_case))
        ->default_str("f16");
}

void require_kv_type(const model::Model& model, const std::string& model_path, gguf::TensorType type) {
    if (Status s = model.check_kv_type(type); !s.is_ok()) fail(model_path + ": " + s.message());
}

}  // namespace sinan::cli
