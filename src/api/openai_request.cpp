#include "api/openai_request.h"

#include <cmath>
#include <set>

namespace sinan::api {

namespace {

using ojson = nlohmann::ordered_json;

std::string type_name(const ojson& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "an array";
    return "an object";
}

ApiError wrong_type(const std::string& field, const std::string& want, const ojson& got) {
    return bad_request(field + " must be " + want + ", got " + type_name(got), field);
}

// Optional number field in [lo, hi]; absent or null leaves *out unchanged.
std::optional<ApiError> read_number(const ojson& body, const std::string& key, double lo, double hi, float* out,
                                    bool* given = nullptr) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) return wrong_type(key, "a number", *it);
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi))
        return bad_request(key + " must be between " + nlohmann::json(lo).dump() + " and " + nlohmann::json(hi).dump() +
                               ", got " + nlohmann::json(v).dump(),
                           key);
    *out = static_cast<float>(v);
    if (given) *given = true;
    return std::nullopt;
}

std::optional<ApiError> read_int(const ojson& body, const std::string& key, int64_t lo, int64_t hi, int64_t* out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
        if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>() &&
            std::fabs(it->get<double>()) < 9e15) {
            // 16.0 is an integer to a JavaScript client.
        } else {
            return wrong_type(key, "an integer", *it);
        }
    }
    const double as_double = it->get<double>();
    if (as_double < static_cast<double>(lo) || as_double > static_cast<double>(hi))
        return bad_request(
            key + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + it->dump(), key);
    *out = it->is_number_integer() ? it->get<int64_t>() : static_cast<int64_t>(as_double);
    return std::nullopt;
}

std::optional<ApiError> read_bool(const ojson& body, const std::string& key, bool* out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) return wrong_type(key, "true or false", *it);
    *out = it->get<bool>();
    return std::nullopt;
}

std::optional<ApiError> read_stop(const ojson& body, std::vector<std::string>* out) {
    auto it = body.find("stop");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) {
        if (!it->get<std::string>().empty()) out->push_back(it->get<std::string>());
        return std::nullopt;
    }
    if (!it->is_array()) return wrong_type("stop", "a string or an array of strings", *it);
    if (it->size() > kMaxStopStrings)
        return bad_request("stop takes at most " + std::to_string(kMaxStopStrings) + " strings", "stop");
    for (const ojson& s : *it) {
        if (!s.is_string()) return wrong_type("stop[]", "a string", s);
        if (!s.get<std::string>().empty()) out->push_back(s.get<std::string>());
    }
    return std::nullopt;
}

std::optional<ApiError> read_logit_bias(const ojson& body, std::map<int32_t, float>* out) {
    auto it = body.find("logit_bias");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_object()) return wrong_type("logit_bias", "an object of token id -> bias", *it);
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
        const std::string& key = kv.key();
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(key, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != key.size() || key.empty() || id < 0 || id > INT32_MAX)
            return bad_request("logit_bias keys must be token ids (non-negative integers), got \"" + key + "\"",
                               "logit_bias");
        if (!kv.value().is_number()) return wrong_type("logit_bias[\"" + key + "\"]", "a number", kv.value());
        const double bias = kv.value().get<double>();
        if (!(bias >= -100 && bias <= 100))
            return bad_request("logit_bias values must be between -100 and 100", "logit_bias");
        (*out)[static_cast<int32_t>(id)] = static_cast<float>(bias);
    }
    return std::nullopt;
}

// A message's content as one string: a string, null (an assistant turn with tool calls), or an
// array of {"type": "text", "text": ...} parts joined.
std::optional<ApiError> flatten_content(const ojson& content, const std::string& field, std::string* out) {
    if (content.is_null()) return std::nullopt;
    if (content.is_string()) {
        *out = content.get<std::string>();
        return std::nullopt;
    }
    if (!content.is_array()) return wrong_type(field, "a string or an array of text parts", content);
    for (const ojson& part : content) {
        if (!part.is_object()) return wrong_type(field + "[]", "an object {\"type\": \"text\", \"text\": ...}", part);
        auto type = part.find("type");
        if (type == part.end() || !type->is_string()) return bad_request(field + "[].type must be a string", field);
        if (*type != "text")
            return bad_request(field + "[].type \"" + type->get<std::string>() +
                                   "\" is not supported: this server takes text parts only",
                               field);
        auto text = part.find("text");
        if (text == part.end() || !text->is_string()) return bad_request(field + "[].text must be a string", field);
        *out += text->get<std::string>();
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_json_object(std::string_view body, nlohmann::ordered_json* out) {
    try {
        *out = ojson::parse(body.begin(), body.end());
    } catch (const nlohmann::json::exception& e) {
        // e.what() carries nlohmann's position and reason ("syntax error while parsing value ...").
        std::string why = e.what();
        return bad_request("the request body is not valid JSON: " + why, "", "invalid_json");
    }
    if (!out->is_object()) return bad_request("the request body must be a JSON object, got " + type_name(*out));
    return std::nullopt;
}

namespace {

// What the server cannot honour is refused, not ignored: a client that asks for JSON output or for
// function calls and gets plain text instead would fail later and more obscurely. Accepted: no
// response_format or type "text"; no tools (functions) or tool_choice (function_call) "none".
std::optional<ApiError> refuse_unsupported(const ojson& body) {
    if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return wrong_type("response_format", "an object", *it);
        auto type = it->find("type");
        if (type == it->end() || !type->is_string())
            return bad_request("response_format.type must be a string", "response_format.type");
        if (type->get<std::string>() != "text")
            return bad_request("response_format type \"" + type->get<std::string>() +
                                   "\" is not supported: the output is not constrained to a format; leave "
                                   "response_format out (or use \"text\") and ask for the format in the prompt",
                               "response_format", "unsupported_parameter");
    }
    for (const auto& [list, choice] : {std::pair{"tools", "tool_choice"}, std::pair{"functions", "function_call"}}) {
        auto it = body.find(list);
        if (it == body.end() || it->is_null()) continue;
        if (!it->is_array()) return wrong_type(list, "an array", *it);
        auto c = body.find(choice);
        const bool none = c != body.end() && c->is_string() && c->get<std::string>() == "none";
        if (!it->empty() && !none)
            return bad_request(std::string(list) + ": function calling is not supported by this server; leave " + list +
                                   " out (or set " + choice + " to \"none\")",
                               list, "unsupported_parameter");
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_generation_params(const ojson& body, GenerationParams* out) {
    if (auto e = refuse_unsupported(body)) return e;
    GenerationParams& p = *out;
    if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) return wrong_type("model", "a string", *it);
        p.model = it->get<std::string>();
    }
    if (auto e = read_number(body, "temperature", 0, 2, &p.sampling.temperature, &p.temperature_given)) return e;
    if (auto e = read_number(body, "top_p", 0, 1, &p.sampling.top_p, &p.top_p_given)) return e;
    if (auto e = read_number(body, "min_p", 0, 1, &p.sampling.min_p)) return e;
    if (auto e = read_number(body, "presence_penalty", -2, 2, &p.sampling.presence_penalty)) return e;
    if (auto e = read_number(body, "frequency_penalty", -2, 2, &p.sampling.frequency_penalty)) return e;
    if (auto e = read_number(body, "repetition_penalty", 0.01, 10, &p.sampling.repetition_penalty)) return e;
    int64_t v = p.sampling.top_k;
    if (auto e = read_int(body, "top_k", 0, INT32_MAX, &v)) return e;
    p.sampling.top_k = static_cast<int32_t>(v);

    v = -1;
    if (auto e = read_int(body, "max_tokens", 1, INT32_MAX, &v)) return e;
    if (auto e = read_int(body, "max_completion_tokens", 1, INT32_MAX, &v)) return e;
    p.max_tokens = v;
    if (auto e = read_int(body, "max_reasoning_tokens", 0, INT32_MAX, &p.max_reasoning_tokens)) return e;
    v = 1;
    if (auto e = read_int(body, "n", 1, kMaxChoices, &v)) return e;
    p.n = static_cast<int32_t>(v);

    if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer()) return wrong_type("seed", "an integer", *it);
        p.sampling.seed = it->is_number_unsigned() ? it->get<uint64_t>() : static_cast<uint64_t>(it->get<int64_t>());
        p.seed_given = true;
    }
    if (auto e = read_stop(body, &p.sampling.stop)) return e;
    if (auto e = read_logit_bias(body, &p.sampling.logit_bias)) return e;
    if (auto e = read_bool(body, "stream", &p.stream)) return e;
    if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return wrong_type("stream_options", "an object", *it);
        if (auto e = read_bool(*it, "include_usage", &p.include_usage)) {
            e->param = "stream_options.include_usage";
            e->message = "stream_options." + e->message;
            return e;
        }
    }
    return std::nullopt;
}

std::optional<ApiError> parse_messages(const ojson& value, const std::string& param, ojson* out) {
    static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
    if (!value.is_array()) return wrong_type(param, "an array of messages", value);
    *out = ojson::array();
    for (size_t i = 0; i < value.size(); ++i) {
        const std::string field = param + "[" + std::to_string(i) + "]";
        const ojson& m = value[i];
        if (!m.is_object()) return wrong_type(field, "an object {\"role\", \"content\"}", m);
        auto role = m.find("role");
        if (role == m.end()) return bad_request(field + ".role is missing", field + ".role");
        if (!role->is_string()) return wrong_type(field + ".role", "a string", *role);
        if (!kRoles.count(role->get<std::string>()))
            return bad_request(field + ".role \"" + role->get<std::string>() +
                                   "\" is not one of system, developer, user, assistant, tool",
                               field + ".role");
        ojson msg = ojson::object();
        // The templates know "system"; "developer" is OpenAI's newer name for it.
        msg["role"] = *role == "developer" ? "system" : role->get<std::string>();
        std::string content;
        auto c = m.find("content");
        if (c == m.end() && *role != "assistant") return bad_request(field + ".content is missing", field + ".content");
        if (c != m.end())
            if (auto e = flatten_content(*c, field + ".content", &content)) return e;
        msg["content"] = content;
        for (const char* key : {"name", "tool_call_id"}) {
            if (auto it = m.find(key); it != m.end() && !it->is_null()) {
                if (!it->is_string()) return wrong_type(field + "." + key, "a string", *it);
                msg[key] = *it;
            }
        }
        if (auto it = m.find("tool_calls"); it != m.end() && !it->is_null()) {
            if (!it->is_array()) return wrong_type(field + ".tool_calls", "an array", *it);
            msg["tool_calls"] = *it;
        }
        // reasoning_content / reasoning of earlier turns are left out on purpose: a reasoning
        // model is not shown its own earlier thinking.
        out->push_back(std::move(msg));
    }
    return std::nullopt;
}

std::optional<ApiError> parse_chat_request(std::string_view body, ChatRequest* out) {
    ojson j;
    if (auto e = parse_json_object(body, &j)) return e;
    auto m = j.find("messages");
    if (m == j.end() || m->is_null()) return bad_request("messages is missing: give at least one message", "messages");
    if (auto e = parse_messages(*m, "messages", &out->messages)) return e;
    if (out->messages.empty()) return bad_request("messages must hold at least one message", "messages");
    if (auto e = parse_generation_params(j, &out->params)) return e;
    if (auto e = read_bool(j, "logprobs", &out->params.logprobs)) return e;
    int64_t top = 0;
    if (auto e = read_int(j, "top_logprobs", 0, sampling::kMaxLogprobs, &top)) return e;
    if (top > 0 && !out->params.logprobs) return bad_request("top_logprobs needs logprobs: true", "top_logprobs");
    out->params.top_logprobs = static_cast<int32_t>(top);
    out->body = cache_identity(j);
    return std::nullopt;
}

namespace {

// A string, an array of strings, an array of token ids or an array of such arrays, into `out`;
// `field` names the request field in errors.
std::optional<ApiError> parse_inputs(const ojson& p, const std::string& field, std::vector<PromptInput>* out) {
    auto token_list = [](const ojson& a, std::vector<int32_t>* ids) -> bool {
        for (const ojson& t : a) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) return false;
            ids->push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
        return true;
    };
    const std::string want = "a string, an array of strings, an array of token ids or an array of such arrays";
    const std::string bad_ids = field + " token ids must be non-negative integers";
    if (p.is_string()) {
        out->emplace_back(p.get<std::string>());
    } else if (p.is_array() && !p.empty() && p[0].is_number()) {
        std::vector<int32_t> ids;
        if (!token_list(p, &ids)) return bad_request(bad_ids, field);
        out->emplace_back(std::move(ids));
    } else if (p.is_array() && !p.empty()) {
        for (const ojson& item : p) {
            if (item.is_string()) {
                out->emplace_back(item.get<std::string>());
            } else if (item.is_array()) {
                std::vector<int32_t> ids;
                if (!token_list(item, &ids)) return bad_request(bad_ids, field);
                out->emplace_back(std::move(ids));
            } else {
                return wrong_type(field, want, p);
            }
        }
    } else {
        return p.is_array() ? bad_request(field + " must not be empty", field) : wrong_type(field, want, p);
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_completion_request(std::string_view body, CompletionRequest* out) {
    ojson j;
    if (auto e = parse_json_object(body, &j)) return e;
    auto p = j.find("prompt");
    if (p == j.end() || p->is_null()) return bad_request("prompt is missing", "prompt");
    if (auto e = parse_inputs(*p, "prompt", &out->prompts)) return e;
    if (out->prompts.size() > static_cast<size_t>(kMaxChoices))
        return bad_request("prompt takes at most " + std::to_string(kMaxChoices) + " prompts", "prompt");
    if (auto e = parse_generation_params(j, &out->params)) return e;
    if (out->prompts.size() * static_cast<size_t>(out->params.n) > static_cast<size_t>(kMaxChoices))
        return bad_request("prompts x n must be at most " + std::to_string(kMaxChoices), "n");
    if (auto e = read_bool(j, "echo", &out->echo)) return e;
    // Legacy completions: logprobs is the number of alternatives (0..5), null = off.
    int64_t lp = -1;
    if (auto e = read_int(j, "logprobs", 0, sampling::kMaxLogprobs, &lp)) return e;
    out->params.logprobs = lp >= 0;
    out->params.top_logprobs = static_cast<int32_t>(std::max<int64_t>(lp, 0));
    // As OpenAI's: echo with logprobs scores the prompt's own tokens too (evaluation harnesses
    // read them by position from the start of the text).
    out->params.score_prompt = out->echo && out->params.logprobs;
    out->body = cache_identity(j);
    return std::nullopt;
}

std::optional<ApiError> parse_embedding_request(std::string_view body, EmbeddingRequest* out) {
    ojson j;
    if (auto e = parse_json_object(body, &j)) return e;
    if (auto it = j.find("model"); it != j.end() && !it->is_null()) {
        if (!it->is_string()) return wrong_type("model", "a string", *it);
        out->model = it->get<std::string>();
    }
    auto in = j.find("input");
    if (in == j.end() || in->is_null()) return bad_request("input is missing: give a string or an array of strings", "input");
    if (auto e = parse_inputs(*in, "input", &out->inputs)) return e;
    if (out->inputs.size() > kMaxEmbeddingInputs)
        return bad_request("input takes at most " + std::to_string(kMaxEmbeddingInputs) + " items, got " +
                               std::to_string(out->inputs.size()) + "; split the request",
                           "input");
    for (size_t i = 0; i < out->inputs.size(); ++i) {
        const PromptInput& x = out->inputs[i];
        const bool empty = std::holds_alternative<std::string>(x) ? std::get<std::string>(x).empty()
                                                                  : std::get<std::vector<int32_t>>(x).empty();
        if (empty) return bad_request("input " + std::to_string(i) + " is empty", "input");
    }
    if (auto it = j.find("encoding_format"); it != j.end() && !it->is_null()) {
        if (!it->is_string() || (*it != "float" && *it != "base64"))
            return bad_request("encoding_format must be \"float\" or \"base64\"", "encoding_format");
        out->base64 = *it == "base64";
    }
    if (auto e = read_bool(j, "truncate", &out->truncate)) return e;
    if (auto it = j.find("dimensions"); it != j.end() && !it->is_null())
        return bad_request("dimensions is not supported: the model gives vectors of its own size (leave it out)",
                           "dimensions", "unsupported_parameter");
    return std::nullopt;
}

nlohmann::json cache_identity(const ojson& body) {
    nlohmann::json j = body;
    for (const char* key : {"stream", "stream_options", "user"}) j.erase(key);
    return j;
}

}  // namespace sinan::api
