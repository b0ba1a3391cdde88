#include "api/generation.h"

namespace sinan::api {

std::variant<Generation, ApiError> Generation::start(engine::Scheduler& scheduler,
                                                     std::vector<engine::Request> requests) {
    std::vector<std::shared_ptr<engine::RequestHandle>> handles;
    for (engine::Request& r : requests) {
        engine::Scheduler::Submitted s = scheduler.submit(std::move(r));
        if (s.handle) {
            handles.push_back(std::move(s.handle));
            continue;
        }
        for (auto& h : handles) h->cancel();
        ApiError e;
        switch (s.error) {
            case engine::Scheduler::SubmitError::kInvalid:
                return bad_request(s.message);
            case engine::Scheduler::SubmitError::kQueueFull:
                e.status = 503;
                e.type = "server_error";
                e.code = "queue_full";
                e.retry_after_s = 1;
                e.message = "the server is busy: " + s.message + "; retry after a second";
                return e;
            case engine::Scheduler::SubmitError::kShuttingDown:
                e.status = 503;
                e.type = "server_error";
                e.code = "shutting_down";
                e.retry_after_s = 5;
                e.message = "the server is shutting down; retry on another instance or after it restarts";
                return e;
        }
    }
    Generation g(std::move(handles));
    g.done_.assign(g.handles_.size(), false);
    return g;
}

bool Generation::run(const std::function<bool(size_t, engine::Event&)>& on_event, const std::function<bool()>& on_idle,
                     std::chrono::milliseconds idle) {
    using namespace std::chrono;
    size_t n_done = 0;
    for (bool d : done_) n_done += d;
    auto last_event = steady_clock::now();
    // One choice: block on it. Several: short waits in turn, so no choice holds up another.
    const milliseconds wait = handles_.size() == 1 ? milliseconds(100) : milliseconds(5);
    engine::Event ev;
    while (n_done < handles_.size()) {
        bool any = false;
        for (size_t i = 0; i < handles_.size(); ++i) {
            if (done_[i]) continue;
            while (handles_[i]->next(&ev, any ? milliseconds(0) : wait)) {
                any = true;
                const bool last = ev.type != engine::Event::Type::kText;
                if (last) {
                    done_[i] = true;
                    ++n_done;
                }
                if (!on_event(i, ev)) {
                    cancel();
                    return false;
                }
                if (last) break;
            }
        }
        if (any) {
            last_event = steady_clock::now();
        } else if (steady_clock::now() - last_event >= idle) {
            last_event = steady_clock::now();
            if (!on_idle()) {
                cancel();
                return false;
            }
        }
    }
    return true;
}

void accumulate(ChoiceResult& c, const engine::Event& ev) {
    switch (ev.type) {
        case engine::Event::Type::kText:
            (ev.kind == engine::TextKind::kReasoning ? c.reasoning : c.answer) += ev.text;
            c.n_tokens_received += static_cast<int64_t>(ev.tokens.size());
            if (!ev.prompt_scores.empty()) c.prompt_scores = ev.prompt_scores;
            for (const engine::TokenInfo& t : ev.tokens)
                if (t.kind == engine::TextKind::kAnswer) c.answer_tokens.push_back(t);
            break;
        case engine::Event::Type::kFinished:
            c.result = ev.result;
            c.n_cached = ev.n_cached;
            c.queue_seconds = ev.queue_seconds;
            c.first_token_seconds = ev.first_token_seconds;
            break;
        case engine::Event::Type::kFailed:
            c.failed = true;
            c.error = ev.error.message();
            break;
    }
}

std::optional<ApiError> failure_of(const std::vector<ChoiceResult>& choices) {
    for (const ChoiceResult& c : choices) {
        if (!c.failed) continue;
        ApiError e;
        e.type = "server_error";
        if (c.error.find("shutting down") != std::string::npos) {
            e.status = 503;
            e.code = "shutting_down";
            e.retry_after_s = 5;
        } else {
            e.status = 500;
            e.code = "generation_failed";
        }
        e.message = "generation failed: " + c.error;
        return e;
    }
    return std::nullopt;
}

std::vector<ChoiceResult> Generation::collect() {
    for (auto& h : handles_) h->set_text_wakeups(false);  // only the whole result is needed
    std::vector<ChoiceResult> out(handles_.size());
    run(
        [&](size_t i, engine::Event& ev) {
            accumulate(out[i], ev);
            return true;
        },
        [] { return true; });
    return out;
}

void Generation::pace_text(std::chrono::microseconds interval) {
    for (auto& h : handles_) h->set_text_interval(interval);
}

void Generation::cancel() {
    for (size_t i = 0; i < handles_.size(); ++i)
        if (i >= done_.size() || !done_[i]) handles_[i]->cancel();
}

}  // namespace sinan::api
