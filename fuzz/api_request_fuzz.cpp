// libFuzzer target: any request body given to the parsers of the OpenAI routes (chat
// completions, completions, embeddings) yields a request or an ApiError whose body is valid JSON,
// never an exception, a crash, an out-of-bounds read (AddressSanitizer) or undefined behaviour.
// What a parse accepts is then used the way the routes use it: the cache identity is computed and
// dumped, the prompts and messages are walked.
//
// An input whose first byte is odd is the body itself, bytes as sent (malformed JSON, invalid
// UTF-8). An even first byte makes the rest a recipe: one of the valid bodies below, then a few
// edits anywhere in its tree (a value replaced by one of any JSON type, nested a few levels; a key
// or element added or removed). A byte-level mutation of a JSON text seldom turns a string into
// a number or an array, and a type the parser did not expect, past the checks a valid body passes,
// is what would break it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_request.h"

namespace {

using sinan::api::ApiError;
using json = nlohmann::json;

// Field names and string values the parsers look for.
constexpr const char* kWords[] = {
    "model",
    "messages",
    "role",
    "content",
    "name",
    "type",
    "text",
    "image_url",
    "tool_calls",
    "tool_call_id",
    "tool_choice",
    "tools",
    "functions",
    "function_call",
    "reasoning_content",
    "reasoning",
    "prompt",
    "input",
    "echo",
    "suffix",
    "max_tokens",
    "max_completion_tokens",
    "max_reasoning_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "n",
    "stop",
    "stream",
    "stream_options",
    "include_usage",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "user",
    "response_format",
    "encoding_format",
    "dimensions",
    "truncate",
    "system",
    "assistant",
    "tool",
    "developer",
    "none",
    "auto",
    "base64",
    "float",
    "json_object",
    "42",
    "",
};

std::string word_or_bytes(FuzzedDataProvider& p) {
    if (p.ConsumeBool()) return kWords[p.ConsumeIntegralInRange<size_t>(0, std::size(kWords) - 1)];
    return p.ConsumeRandomLengthString(32);
}

json value(FuzzedDataProvider& p, int depth) {
    switch (p.ConsumeIntegralInRange(0, depth >= 4 ? 5 : 7)) {
        case 0:
            return nullptr;
        case 1:
            return p.ConsumeBool();
        case 2:
            return p.ConsumeIntegralInRange<int64_t>(-3, 200000);
        case 3:
            return p.ConsumeBool() ? json(p.ConsumeIntegral<int64_t>()) : json(p.ConsumeFloatingPoint<double>());
        case 4:
        case 5:
            return word_or_bytes(p);
        case 6: {
            json a = json::array();
            for (int i = p.ConsumeIntegralInRange(0, 4); i > 0; --i) a.push_back(value(p, depth + 1));
            return a;
        }
        default: {
            json o = json::object();
            for (int i = p.ConsumeIntegralInRange(0, 6); i > 0; --i) o[word_or_bytes(p)] = value(p, depth + 1);
            return o;
        }
    }
}

// Valid bodies of the three routes, with most of the fields they read.
constexpr const char* kBases[] = {
    R"({"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 32, "temperature": 0.6, "top_p": 0.95, "seed": 7, "stream": true,
        "stream_options": {"include_usage": true}, "stop": ["END"], "n": 2})",
    R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": null, "reasoning_content": "hm",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"}],
        "logprobs": true, "top_logprobs": 3, "presence_penalty": 0.5, "frequency_penalty": -0.5,
        "logit_bias": {"42": -100, "7": 2.5}, "max_reasoning_tokens": 16, "user": "u1", "tool_choice": "none"})",
    R"({"prompt": ["The capital of France is", "One"], "max_tokens": 1, "echo": true, "logprobs": 2,
        "temperature": 0, "n": 3, "stop": "\n", "top_k": 5, "min_p": 0.1, "repetition_penalty": 1.1})",
    R"({"prompt": [[151646, 785, 6722], [9707, 1879]], "max_tokens": 4, "seed": 1, "top_p": 0.5})",
    R"({"model": "e", "input": ["first text", "second text"], "encoding_format": "base64", "truncate": true})",
    R"({"input": [[101, 2023, 102], [101, 102]], "encoding_format": "float"})",
};

// Every node of j (j included), in document order.
void nodes_of(json& j, std::vector<json*>* out) {
    out->push_back(&j);
    if (j.is_structured())
        for (json& child : j) nodes_of(child, out);
}

// One edit at a node of `body` chosen by p.
void edit(json& body, FuzzedDataProvider& p) {
    std::vector<json*> nodes;
    nodes_of(body, &nodes);
    json& n = *nodes[p.ConsumeIntegralInRange<size_t>(0, nodes.size() - 1)];
    switch (p.ConsumeIntegralInRange(0, 2)) {
        case 0:  // replaced
            n = value(p, 2);
            break;
        case 1:  // a key or an element added
            if (n.is_object())
                n[word_or_bytes(p)] = value(p, 2);
            else if (n.is_array())
                n.push_back(value(p, 2));
            break;
        default:  // a key or an element removed
            if (n.is_object() && !n.empty()) {
                auto it = n.begin();
                std::advance(it, p.ConsumeIntegralInRange<size_t>(0, n.size() - 1));
                n.erase(it);
            } else if (n.is_array() && !n.empty()) {
                n.erase(p.ConsumeIntegralInRange<size_t>(0, n.size() - 1));
            }
            break;
    }
}

std::string body_of(const uint8_t* data, size_t size) {
    if (size == 0 || data[0] % 2 == 1) return std::string(reinterpret_cast<const char*>(data), size);
    FuzzedDataProvider p(data + 1, size - 1);
    json body = json::parse(kBases[p.ConsumeIntegralInRange<size_t>(0, std::size(kBases) - 1)]);
    for (int i = p.ConsumeIntegralInRange(1, 4); i > 0; --i) edit(body, p);
    // Invalid UTF-8 in a string is dropped here: the raw inputs are where such bytes reach the parsers.
    return body.dump(-1, ' ', false, json::error_handler_t::ignore);
}

size_t error_size(const ApiError& e) {
    // The body is JSON a client can parse, whatever bytes the message quotes.
    return json::parse(e.body()).at("error").at("message").get<std::string>().size();
}

size_t identity_size(const json& body) {
    return sinan::api::cache_identity(nlohmann::ordered_json(body))
        .dump(-1, ' ', false, json::error_handler_t::replace)
        .size();
}

size_t prompts_size(const std::vector<sinan::api::PromptInput>& prompts) {
    size_t n = 0;
    for (const sinan::api::PromptInput& p : prompts)
        n += std::holds_alternative<std::string>(p) ? std::get<std::string>(p).size()
                                                    : std::get<std::vector<int32_t>>(p).size();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = body_of(data, size);
    const std::string_view body = text;
    size_t sink = 0;

    sinan::api::ChatRequest chat;
    if (auto e = sinan::api::parse_chat_request(body, &chat)) {
        sink += error_size(*e);
    } else {
        sink += identity_size(chat.body);
        for (const auto& m : chat.messages) sink += m.at("content").get<std::string>().size();
    }

    sinan::api::CompletionRequest completion;
    if (auto e = sinan::api::parse_completion_request(body, &completion)) {
        sink += error_size(*e);
    } else {
        sink += identity_size(completion.body) + prompts_size(completion.prompts);
    }

    sinan::api::EmbeddingRequest embedding;
    if (auto e = sinan::api::parse_embedding_request(body, &embedding))
        sink += error_size(*e);
    else
        sink += prompts_size(embedding.inputs);
    return sink == 0xdeadbeef ? 1 : 0;
}
