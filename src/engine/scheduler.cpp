#include "engine/scheduler.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/check.h"
#include "engine/output_stream.h"

namespace sinan::engine {

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

// Most tokens the sequence will ever hold in the cache: the prompt plus every generated token
// but the last (which is sampled, never fed), at most n_ctx.
int64_t max_tokens_held(const Request& r, int64_t n_ctx) {
    const int64_t n_prompt = static_cast<int64_t>(r.prompt.size());
    if (r.options.n_predict < 0 || r.options.n_predict >= n_ctx) return n_ctx;  // (no overflow for huge n_predict)
    return std::min(n_ctx, n_prompt + r.options.n_predict - 1);
}

}  // namespace

// ---- RequestHandle ----

bool RequestHandle::next(Event* out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    // timeout 0 waits for nothing: what is queued goes out (the rest of what a wake-up found).
    if (timeout.count() > 0) {
        const Clock::time_point deadline = Clock::now() + timeout;
        for (Clock::time_point now = Clock::now();; now = Clock::now()) {
            const bool quiet = now < text_quiet_until_;
            if (closed_ || (text_wakeups_ && !events_.empty() && !quiet)) break;
            if (now >= deadline) {
                if (text_wakeups_ && quiet) return false;  // text held for the quiet time stays queued
                break;
            }
            // Text pushed during the quiet time did not notify: wake at its end to take it.
            cv_.wait_until(lock, quiet && text_quiet_until_ < deadline ? text_quiet_until_ : deadline);
        }
    }
    if (events_.empty()) return false;
    *out = std::move(events_.front());
    events_.pop_front();
    if (out->type == Event::Type::kText && text_interval_.count() > 0)
        text_quiet_until_ = Clock::now() + text_interval_;
    return true;
}

void RequestHandle::cancel() { cancelled_.store(true); }

void RequestHandle::set_text_wakeups(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    text_wakeups_ = on;
}

void RequestHandle::set_text_interval(std::chrono::microseconds interval) {
    std::lock_guard<std::mutex> lock(mu_);
    text_interval_ = interval;
}

void RequestHandle::push(Event e) {
    bool wake = true;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        if (e.type != Event::Type::kText) closed_ = true;
        wake = closed_ || (text_wakeups_ && (text_interval_.count() == 0 || Clock::now() >= text_quiet_until_));
        events_.push_back(std::move(e));
    }
    if (wake) cv_.notify_all();
}

// ---- the engine's state and loop ----

struct Scheduler::Impl {
    struct Waiting {
        Request request;
        std::shared_ptr<RequestHandle> handle;
        Clock::time_point submitted;
    };

    // A request in a slot. Heap-allocated: its OutputStream's callback points at it.
    struct Running {
        Request request;
        std::shared_ptr<RequestHandle> handle;
        Clock::time_point submitted, admitted, prompt_done, first_token;
        bool prompt_computed = false, sampled = false;
        std::optional<sampling::Sampler> sampler;
        std::unique_ptr<OutputStream> out;
        size_t n_prompt_fed = 0;  // prompt tokens in the cache, reused ones included
        int64_t n_cached = 0;     // prompt tokens reused from the prefix cache
        // Full attention: cells still reserved for tokens not fed yet (beside the cells in use).
        // With a window: the most cells the sequence ever holds (counted instead of its cells in use).
        int64_t n_reserved = 0;
        int64_t n_keep = 0;       // with context shift: tokens kept at the start
        int64_t n_shifted = 0;    // tokens dropped by context shift so far
        int32_t next_token = -1;  // taken but not fed yet (fed at the next step)
        // A longer prefix that another running request (handle id share_id, in slot share_src)
        // is still computing: this one waits for it instead of computing it again.
        int32_t share_src = -1;
        uint64_t share_id = 0;
        size_t share_len = 0;
        std::vector<sampling::TokenChoice> prompt_scores;  // Request::score_prompt: scored so far
        Event event;  // the kText event being built this step
    };

    // One sequence id of the cache. Running: run is set. Idle (prefix cache): no run, tokens
    // kept. Free: neither. tokens are the sequence's positions 0..size-1; its cells hold all of them,
    // or with a window the last W.
    struct Slot {
        std::vector<int32_t> tokens;
        std::unique_ptr<Running> run;
        Clock::time_point last_used;
    };

    Impl(model::Model& m, const text::Tokenizer& t, const SchedulerOptions& options)
        : model(m),
          tokenizer(t),
          o(options),
          window(m.hparams().n_swa),
          cache(m.make_cache(options.n_cells, options.kv_type)),
          slots(static_cast<size_t>(model::KvCache::kMaxSequences)) {
        // Every slot's sampler now (about 20 bytes a vocabulary entry each, 3 MiB at 152k), so a
        // first burst of requests does not fault their pages in on the engine thread, one slot
        // after another (about half of a cold start's delay; bench/NOTES.md, 2026-12-04).
        for (int32_t i = 0; i < o.n_parallel; ++i) spare_samplers.push_back(make_sampler({}));
        stats.kv_cells = cache.n_cells();  // known before the first step
        stats.samplers = totals.samplers;
    }

    void run();
    void expire_waiting(Clock::time_point now);
    bool try_admit(Waiting& w, Clock::time_point now);
    void expire_running(Clock::time_point now);
    void step();
    bool take_shared_prefix(int32_t seq);
    bool shift_context(int32_t seq);
    size_t n_shareable(const Slot& s) const;
    size_t usable_prefix(int32_t seq, size_t n) const;
    void drop_outside_window(int32_t seq);
    void make_room(int64_t n);
    void take_token(int32_t seq, const sampling::TokenChoice& choice);
    void finish(int32_t seq, FinishReason reason);
    void fail(int32_t seq, const Status& error);
    void end_running(int32_t seq);
    sampling::Sampler new_sampler(const sampling::SamplingParams& params);
    sampling::Sampler make_sampler(const sampling::SamplingParams& params);  // a new one, counted
    void evict(int32_t seq);
    int32_t lru_idle(int32_t except) const;
    int64_t reserved() const;
    void send(const std::shared_ptr<RequestHandle>& handle, Event e) { outbox.emplace_back(handle, std::move(e)); }
    void publish();

    model::Model& model;
    const text::Tokenizer& tokenizer;
    const SchedulerOptions& o;
    const int64_t window;  // sliding-window attention (Hparams::n_swa); 0 = none

    // Guarded by mu.
    std::mutex mu;
    std::condition_variable wake;     // the engine: work arrived, or stop
    std::condition_variable settled;  // drain(): requests ended
    std::deque<Waiting> waiting;
    bool stop = false;
    bool draining = false;
    uint64_t next_id = 1;
    SchedulerStats stats;   // published by the engine after each step
    int32_t n_running = 0;  // written by the engine under mu, so its wait and drain() can read it

    std::atomic<bool> cancel_all{false};  // drain's grace is over

    // Engine thread only (and the destructor, after the engine stopped).
    model::KvCache cache;
    std::vector<Slot> slots;     // index = sequence id
    std::vector<int32_t> order;  // running slots in admission order (prefill is served first come, first served)
    model::Batch batch;
    std::vector<float> logits;
    std::vector<int32_t> rows;                   // slot of each sampled row
    std::vector<size_t> row_logits;              // its row of logits
    std::vector<sampling::TokenChoice> choices;  // the token sampled from each row
    std::vector<Status> sample_errors;           // why a row gave no token (a broken model's logits)
    // Request::score_prompt: the rows of logits that score a prompt token (not sampled).
    struct ScoredRow {
        size_t logits_row;
        int32_t seq;
        int32_t token;  // the prompt token it scores: the one after the row's own
    };
    std::vector<ScoredRow> scored;
    // Samplers of ended requests, restarted for new ones (no more than ever ran at once): a new
    // sampler's 3 MiB of buffers (151,936 tokens) are zeroed, and fault in page by page when the
    // allocator hands out fresh memory, on this thread, for every request.
    std::vector<sampling::Sampler> spare_samplers;
    SchedulerStats totals;                       // the engine's counters, copied into stats by publish()
    double seconds_per_token = 0;                // of a forward step with prompt chunks (moving average; 0 = none yet)
    // Events of this step, delivered after publish(): a client that sees its request end also
    // sees it counted in stats().
    std::vector<std::pair<std::shared_ptr<RequestHandle>, Event>> outbox;
};

void Scheduler::Impl::run() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu);
            wake.wait(lock, [&] { return stop || !waiting.empty() || n_running > 0; });
            if (stop) return;
            const Clock::time_point now = Clock::now();
            expire_waiting(now);
            // First come, first served: the head of the queue waits for room rather than being
            // overtaken by a smaller request behind it.
            while (!waiting.empty() && try_admit(waiting.front(), now)) waiting.pop_front();
        }
        expire_running(Clock::now());
        if (!order.empty()) step();
        publish();
    }
}

void Scheduler::Impl::publish() {
    {
        std::lock_guard<std::mutex> lock(mu);
        stats = totals;
        stats.running = n_running;
        stats.waiting = static_cast<int32_t>(waiting.size());
        stats.kv_cells_used = cache.n_used();
        stats.kv_cells = cache.n_cells();
    }
    for (auto& [handle, e] : outbox) handle->push(std::move(e));
    outbox.clear();
    settled.notify_all();
}

// Ends queued requests that were cancelled or passed their deadline. Called with mu held.
void Scheduler::Impl::expire_waiting(Clock::time_point now) {
    for (auto it = waiting.begin(); it != waiting.end();) {
        const bool cancelled = it->handle->cancelled() || cancel_all.load();
        const bool late = it->request.deadline && now >= *it->request.deadline;
        if (!cancelled && !late) {
            ++it;
            continue;
        }
        Event e;
        e.type = Event::Type::kFinished;
        e.result.finish = cancelled ? FinishReason::kCancelled : FinishReason::kDeadline;
        e.queue_seconds = seconds_between(it->submitted, now);
        send(it->handle, std::move(e));
        it = waiting.erase(it);
    }
}

int64_t Scheduler::Impl::reserved() const {
    int64_t n = 0;
    for (int32_t seq : order) n += slots[static_cast<size_t>(seq)].run->n_reserved;
    return n;
}

// Leading tokens of a slot whose cells other requests may share: all of them, except after a
// context shift, whose moved cells were computed with the dropped tokens in view.
size_t Scheduler::Impl::n_shareable(const Slot& s) const {
    if (!s.run || s.run->n_shifted == 0) return s.tokens.size();
    return static_cast<size_t>(std::min<int64_t>(s.run->n_keep, o.n_ctx - 2));
}

// n, when the new sequence's first token (at position n) finds every position it attends to among
// `seq`'s cells; else 0. Only a window drops positions.
size_t Scheduler::Impl::usable_prefix(int32_t seq, size_t n) const {
    if (window == 0 || n == 0) return n;
    const int64_t first_seen = std::max<int64_t>(0, static_cast<int64_t>(n) - window + 1);
    return cache.seq_pos_min(seq) <= first_seen ? n : 0;
}

// With a window: frees `seq`'s cells that no later token sees (positions <= last - W), as
// engine::Session does after every step.
void Scheduler::Impl::drop_outside_window(int32_t seq) {
    const int64_t last = static_cast<int64_t>(slots[static_cast<size_t>(seq)].tokens.size()) - 1;
    if (window > 0 && last - window >= 0) cache.seq_rm(seq, 0, static_cast<int32_t>(last - window + 1));
}

// Evicts idle slots, least recently used first, until n cells are free. Admission guarantees that
// the running sequences leave room (full attention: their reserved cells; with a window: their
// most cells sum to at most n_cells), so only idle slots stand in the way.
void Scheduler::Impl::make_room(int64_t n) {
    while (cache.n_cells() - cache.n_used() < n) {
        const int32_t victim = lru_idle(-1);
        SINAN_CHECK(victim >= 0, "scheduler: no idle slot left to evict though admission counted the cells");
        evict(victim);
    }
}

int32_t Scheduler::Impl::lru_idle(int32_t except) const {
    int32_t best = -1;
    for (int32_t i = 0; i < static_cast<int32_t>(slots.size()); ++i) {
        const Slot& s = slots[static_cast<size_t>(i)];
        if (i == except || s.run || s.tokens.empty()) continue;
        if (best < 0 || s.last_used < slots[static_cast<size_t>(best)].last_used) best = i;
    }
    return best;
}

void Scheduler::Impl::evict(int32_t seq) {
    cache.seq_rm(seq, 0, -1);
    slots[static_cast<size_t>(seq)].tokens.clear();
}

// Gives the request a slot when one is free and its cells fit (evicting idle slots, least
// recently used first, when that makes them fit). Called with mu held.
bool Scheduler::Impl::try_admit(Waiting& w, Clock::time_point now) {
    if (n_running >= o.n_parallel) return false;
    const std::vector<int32_t>& prompt = w.request.prompt;

    // The longest prefix held by any slot; the last prompt token is always computed for its logits.
    // A scored prompt takes none: each of its tokens needs its logits.
    const bool takes_prefix = !w.request.score_prompt;
    int32_t src = -1;
    size_t n_common = 0;
    for (int32_t i = 0; takes_prefix && i < static_cast<int32_t>(slots.size()); ++i) {
        const Slot& s = slots[static_cast<size_t>(i)];
        const size_t n =
            usable_prefix(i, std::min({common_prefix(s.tokens, prompt), prompt.size() - 1, n_shareable(s)}));
        if (n > n_common) {
            src = i;
            n_common = n;
        }
    }

    // A longer prefix that a running request is still prefilling (requests with one system prompt
    // arriving together): shared once computed. Cells are reserved as if it were not.
    int32_t share_src = -1;
    size_t share_len = n_common;
    for (int32_t i = 0; takes_prefix && i < static_cast<int32_t>(slots.size()); ++i) {
        const Running* other = slots[static_cast<size_t>(i)].run.get();
        if (!other || other->n_prompt_fed == other->request.prompt.size()) continue;
        const size_t n = std::min(common_prefix(other->request.prompt, prompt), prompt.size() - 1);
        if (n > share_len) {
            share_src = i;
            share_len = n;
        }
    }

    // A sequence id: a free one, else an idle one evicted, else the idle source itself, cut to the prefix.
    int32_t dst = -1;
    for (int32_t i = 0; i < static_cast<int32_t>(slots.size()) && dst < 0; ++i)
        if (!slots[static_cast<size_t>(i)].run && slots[static_cast<size_t>(i)].tokens.empty()) dst = i;
    if (dst < 0 && (dst = lru_idle(src)) >= 0) evict(dst);
    if (dst < 0 && src >= 0 && !slots[static_cast<size_t>(src)].run) {
        dst = src;
        cache.seq_rm(dst, static_cast<int32_t>(n_common), -1);
        slots[static_cast<size_t>(dst)].tokens.resize(n_common);
    }
    if (dst < 0) return false;
    Slot& slot = slots[static_cast<size_t>(dst)];
    if (dst != src && n_common > 0) {
        cache.seq_cp(src, dst, 0, static_cast<int32_t>(n_common));
        slot.tokens.assign(prompt.begin(), prompt.begin() + static_cast<long>(n_common));
        drop_outside_window(dst);
    }

    // Cells: reserved now for everything the sequence may still feed, so it never runs out. With a
    // window, its most cells held at once, beside the other running sequences' (idle slots are
    // evicted when a step needs their cells).
    int64_t need = max_tokens_held(w.request, o.n_ctx) - static_cast<int64_t>(n_common);
    const int64_t held_by_running = reserved();
    auto available = [&] { return cache.n_cells() - cache.n_used() - held_by_running; };
    if (window > 0) {
        need = std::min(max_tokens_held(w.request, o.n_ctx), window + o.n_batch);
        if (held_by_running + need > cache.n_cells()) {
            if (dst != src) evict(dst);
            return false;
        }
    } else if (available() < need) {
        // What evicting every idle slot would leave: cells of running sequences and of dst stay.
        int64_t pinned = 0;
        for (int32_t c = 0; c < cache.cells_end(); ++c) {
            if (!cache.cell_used(c)) continue;
            bool keep = cache.cell_has(c, dst);
            for (size_t k = 0; k < order.size() && !keep; ++k) keep = cache.cell_has(c, order[k]);
            pinned += keep;
        }
        if (cache.n_cells() - pinned - held_by_running < need) {
            if (dst != src) evict(dst);  // the shared prefix goes; src keeps it
            return false;                // (a cut-down src stays idle with its prefix)
        }
        while (available() < need) {
            const int32_t victim = lru_idle(dst);
            SINAN_CHECK(victim >= 0, "scheduler: no idle slot left to evict though the cells were counted");
            evict(victim);
        }
    }

    auto run = std::make_unique<Running>();
    Running& r = *run;
    r.request = std::move(w.request);
    r.handle = std::move(w.handle);
    r.submitted = w.submitted;
    r.admitted = now;
    r.sampler.emplace(new_sampler(r.request.options.sampling));
    r.sampler->accept_prompt(r.request.prompt);
    // Text joins this step's event; a change of kind (reasoning -> answer) starts a new one.
    auto on_text = [this, &r](TextKind kind, std::string_view text) {
        if (!r.event.text.empty() && r.event.kind != kind) {
            send(r.handle, std::move(r.event));
            r.event = Event{};
        }
        r.event.kind = kind;
        r.event.text.append(text);
    };
    r.out = std::make_unique<OutputStream>(tokenizer, r.request.options, r.request.prompt,
                                           r.request.max_reasoning_tokens, on_text);
    r.n_prompt_fed = n_common;
    r.n_cached = static_cast<int64_t>(n_common);
    r.n_reserved = need;
    if (r.request.options.context_shift) {
        const int64_t keep = r.request.n_keep;
        r.n_keep = keep >= 0 ? keep : std::min(static_cast<int64_t>(r.request.prompt.size()), o.n_ctx / 2);
    }
    if (share_src >= 0) {
        r.share_src = share_src;
        r.share_id = slots[static_cast<size_t>(share_src)].run->handle->id();
        r.share_len = share_len;
    }
    slot.run = std::move(run);
    slot.last_used = now;
    if (src >= 0) slots[static_cast<size_t>(src)].last_used = now;
    order.push_back(dst);
    ++n_running;
    totals.cached_tokens += n_common;
    stats.running = n_running;
    return true;
}

void Scheduler::Impl::expire_running(Clock::time_point now) {
    for (size_t i = 0; i < order.size();) {
        const int32_t seq = order[i];
        const Running& r = *slots[static_cast<size_t>(seq)].run;
        if (r.handle->cancelled() || cancel_all.load())
            finish(seq, FinishReason::kCancelled);
        else if (r.request.deadline && now >= *r.request.deadline)
            finish(seq, FinishReason::kDeadline);
        else
            ++i;
    }
}

// One forward pass: every running sequence's next token (decode) first, then prompt chunks in
// admission order up to prompt_chunk tokens.
void Scheduler::Impl::step() {
    batch.clear();
    rows.clear();
    row_logits.clear();
    scored.clear();
    for (int32_t seq : order) {
        Slot& s = slots[static_cast<size_t>(seq)];
        if (s.run->next_token < 0) continue;
        batch.add(s.run->next_token, static_cast<int32_t>(s.tokens.size()), seq, true);
        rows.push_back(seq);
        row_logits.push_back(row_logits.size());
    }
    size_t n_outputs = rows.size();
    const size_t n_decode = batch.size();
    const int64_t limit =
        static_cast<int64_t>(n_decode) + prompt_chunk(o, static_cast<int64_t>(n_decode), seconds_per_token);
    for (int32_t seq : order) {
        Running& r = *slots[static_cast<size_t>(seq)].run;
        const size_t n_prompt = r.request.prompt.size();
        if (r.n_prompt_fed == n_prompt) continue;
        if (r.share_src >= 0 && !take_shared_prefix(seq)) continue;
        int64_t room = limit - static_cast<int64_t>(batch.size());
        if (room <= 0) break;
        const bool score = r.request.score_prompt;
        if (score) room = std::min(room, kScoredPromptChunk);
        const size_t end = std::min(n_prompt, r.n_prompt_fed + static_cast<size_t>(room));
        for (size_t j = r.n_prompt_fed; j < end; ++j) {
            const bool last = j + 1 == n_prompt;
            batch.add(r.request.prompt[j], static_cast<int32_t>(j), seq, last || score);
            if (last) {
                rows.push_back(seq);
                row_logits.push_back(n_outputs++);
            } else if (score) {
                scored.push_back({n_outputs++, seq, r.request.prompt[j + 1]});
            }
        }
    }
    if (batch.size() == 0) return;

    make_room(static_cast<int64_t>(batch.size()));
    const Clock::time_point forward_start = Clock::now();
    if (Status st = model.forward(batch, cache, &logits); !st.is_ok()) {
        // Nothing was placed in the cache; the sequences of this batch end, the rest go on.
        std::vector<int32_t> in_batch(batch.seq_ids.begin(), batch.seq_ids.end());
        std::sort(in_batch.begin(), in_batch.end());
        in_batch.erase(std::unique(in_batch.begin(), in_batch.end()), in_batch.end());
        for (int32_t seq : in_batch) fail(seq, st);
        return;
    }
    ++totals.steps;
    const double forward_seconds = seconds_between(forward_start, Clock::now());
    totals.forward_seconds += forward_seconds;
    if (batch.size() - n_decode >= static_cast<size_t>(kMinPromptChunk)) {
        const double per_token = forward_seconds / static_cast<double>(batch.size());
        seconds_per_token = seconds_per_token == 0 ? per_token : 0.7 * seconds_per_token + 0.3 * per_token;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
        Slot& s = slots[static_cast<size_t>(batch.seq_ids[i])];
        s.tokens.push_back(batch.tokens[i]);
        if (window == 0) --s.run->n_reserved;
        if (i < n_decode)
            s.run->next_token = -1;
        else
            ++s.run->n_prompt_fed;
    }
    totals.prompt_tokens += batch.size() - n_decode;
    if (batch.size() > n_decode) ++totals.prompt_steps;
    if (window > 0)
        for (int32_t seq : order) drop_outside_window(seq);
    const size_t n_vocab = static_cast<size_t>(model.hparams().n_vocab);
    auto logits_row = [&](size_t row) { return std::span<const float>(logits).subspan(row * n_vocab, n_vocab); };
    for (const ScoredRow& sr : scored) {
        Running* r = slots[static_cast<size_t>(sr.seq)].run.get();
        if (!r) continue;  // failed by an earlier row of this step
        Result<sampling::TokenChoice> score = r->sampler->score(logits_row(sr.logits_row), sr.token);
        if (score.ok())
            r->prompt_scores.push_back(*score);
        else
            fail(sr.seq, score.status());
    }
    if (!scored.empty()) {  // a request that failed there has no row to sample
        size_t k = 0;
        for (size_t i = 0; i < rows.size(); ++i) {
            if (!slots[static_cast<size_t>(rows[i])].run) continue;
            rows[k] = rows[i];
            row_logits[k++] = row_logits[i];
        }
        rows.resize(k);
        row_logits.resize(k);
    }
    // Sampling costs O(n_vocab) per sequence and does not batch, so the sequences of a step are
    // sampled in parallel on the model's pool (each has its own Sampler), one at a time to
    // whichever thread is free (parallel_chunks), then taken in order. A lone sequence is sampled
    // here: waking the pool would only add a hand-off.
    choices.resize(rows.size());
    sample_errors.assign(rows.size(), Status::ok());
    auto sample_rows = [&](int64_t r0, int64_t r1, int) {
        for (int64_t row = r0; row < r1; ++row) {
            const auto i = static_cast<size_t>(row);
            Running& r = *slots[static_cast<size_t>(rows[i])].run;
            if (const std::optional<int32_t> forced = r.out->forced_token()) {
                choices[i] = OutputStream::forced_choice(*forced);
                continue;
            }
            // The row is read by nothing after its sampler: a bias or penalty goes in in place.
            Result<sampling::TokenChoice> sampled = r.sampler->sample_in_place(
                std::span<float>(logits).subspan(row_logits[i] * n_vocab, n_vocab));
            if (sampled.ok())
                choices[i] = *sampled;
            else
                sample_errors[i] = sampled.status();
        }
    };
    const auto n_rows = static_cast<int64_t>(rows.size());
    const Clock::time_point sampling_start = Clock::now();
    if (n_rows > 1)
        model.pool().parallel_chunks(n_rows, 1, sample_rows);
    else
        sample_rows(0, n_rows, 0);
    totals.sampling_seconds += seconds_between(sampling_start, Clock::now());
    for (size_t row = 0; row < rows.size(); ++row) {
        if (sample_errors[row].is_ok())
            take_token(rows[row], choices[row]);
        else
            fail(rows[row], sample_errors[row]);  // a broken model's logits: this request ends, the server goes on
    }
}

// For a sequence waiting on a prefix another request computes: shares it once computed (true),
// keeps waiting while that request still prefills (false), or gives up and computes the prefix
// itself when that request is gone (true).
bool Scheduler::Impl::take_shared_prefix(int32_t seq) {
    Slot& s = slots[static_cast<size_t>(seq)];
    Running& r = *s.run;
    const Slot& src = slots[static_cast<size_t>(r.share_src)];
    const auto prefix_end = r.request.prompt.begin() + static_cast<long>(r.share_len);
    const bool computed =
        n_shareable(src) >= r.share_len && std::equal(r.request.prompt.begin(), prefix_end, src.tokens.begin());
    // (With a window, the holder may have gone so far past the prefix that its start is dropped.)
    if (computed && usable_prefix(r.share_src, r.share_len) == r.share_len) {
        const int64_t n = static_cast<int64_t>(r.share_len - r.n_prompt_fed);
        cache.seq_cp(r.share_src, seq, static_cast<int32_t>(r.n_prompt_fed), static_cast<int32_t>(r.share_len));
        s.tokens.insert(s.tokens.end(), r.request.prompt.begin() + static_cast<long>(r.n_prompt_fed), prefix_end);
        drop_outside_window(seq);
        r.n_prompt_fed = r.share_len;
        r.n_cached += n;
        if (window == 0) r.n_reserved -= n;  // those positions take no new cells
        totals.cached_tokens += static_cast<uint64_t>(n);
        r.share_src = -1;
        return true;
    }
    const Running* other = src.run.get();
    if (!computed && other && other->handle->id() == r.share_id && other->n_prompt_fed < other->request.prompt.size())
        return false;
    r.share_src = -1;
    return true;
}

// The sequence's next token (sampled from its logits, or the forced </think>), streamed; ends the
// sequence when the token does.
void Scheduler::Impl::take_token(int32_t seq, const sampling::TokenChoice& choice) {
    Slot& s = slots[static_cast<size_t>(seq)];
    Running& r = *s.run;
    const Clock::time_point now = Clock::now();
    if (!r.prompt_computed) {
        r.prompt_computed = true;
        r.prompt_done = now;
        r.event.prompt_scores = std::move(r.prompt_scores);
    }
    const std::optional<int32_t> forced = r.out->forced_token();
    r.sampler->accept(choice.token);
    if (!r.sampled) {
        r.sampled = true;
        r.first_token = Clock::now();
    }
    ++totals.generated_tokens;
    const OutputStream::Step step = r.out->add(choice);  // text goes into r.event
    if (r.event.text.empty()) r.event.kind = step.kind;
    r.event.tokens.push_back(
        {choice.token, tokenizer.token_to_piece(choice.token), step.kind, choice, forced.has_value()});
    if (step.finish) return finish(seq, *step.finish);
    if (static_cast<int64_t>(s.tokens.size()) >= o.n_ctx) {
        const bool shifts = r.request.options.context_shift && r.request.options.n_predict > 0;
        if (!shifts || !shift_context(seq)) return finish(seq, FinishReason::kContext);
        if (!slots[static_cast<size_t>(seq)].run) return;  // the shift failed the request
    }
    send(r.handle, std::move(r.event));
    r.event = Event{};
    r.next_token = choice.token;
}

// Context shift of a full sequence (Request::options.context_shift): false, with only idle slots evicted, when the
// cache has no room for the copies of shared cells and the tokens up to the next shift.
bool Scheduler::Impl::shift_context(int32_t seq) {
    Slot& s = slots[static_cast<size_t>(seq)];
    Running& r = *s.run;
    const int64_t n_past = static_cast<int64_t>(s.tokens.size());
    const int64_t n_keep = std::min(r.n_keep, n_past - 2);
    const int64_t n_discard = (n_past - n_keep) / 2;
    const int32_t p0 = static_cast<int32_t>(n_keep), p1 = static_cast<int32_t>(n_keep + n_discard);
    // Tokens fed until the next shift or the token limit (the last sampled token is never fed).
    const int64_t n_next = std::min(n_discard, r.request.options.n_predict - r.out->n_generated());
    if (window > 0) {
        // The copies take no more cells than the sequence holds, which admission counted.
        cache.seq_rm(seq, p0, p1);
        make_room(cache.seq_n_shared(seq, p1, -1));
    } else {
        const int64_t held_by_others = reserved() - r.n_reserved;
        for (;;) {
            // Dropped cells that only this sequence holds come free; moved ones that others share are copied.
            const int64_t n_freed = n_discard - cache.seq_n_shared(seq, p0, p1);
            const int64_t n_copies = cache.seq_n_shared(seq, p1, -1);
            if (cache.n_cells() - cache.n_used() - held_by_others + n_freed >= n_copies + n_next) break;
            const int32_t victim = lru_idle(seq);
            if (victim < 0) return false;
            evict(victim);
        }
        cache.seq_rm(seq, p0, p1);
        r.n_reserved = n_next;
    }
    SINAN_CHECK(cache.seq_unshare(seq, p1, -1), "scheduler: no free cells for the copies though they were counted");
    const std::vector<int32_t> moved = cache.seq_shift(seq, p1, -1, -static_cast<int32_t>(n_discard));
    s.tokens.erase(s.tokens.begin() + n_keep, s.tokens.begin() + n_keep + n_discard);
    r.n_shifted += n_discard;
    if (Status st = model.shift_keys(cache, moved, -static_cast<int32_t>(n_discard)); !st.is_ok()) {
        fail(seq, st);
        evict(seq);  // its keys are half moved
    }
    return true;
}

// Sends the last text and the summary; the slot keeps its cells as an idle prefix-cache entry.
void Scheduler::Impl::finish(int32_t seq, FinishReason reason) {
    Running& r = *slots[static_cast<size_t>(seq)].run;
    r.out->finish();
    if (!r.event.text.empty() || !r.event.tokens.empty()) send(r.handle, std::move(r.event));
    const Clock::time_point now = Clock::now();
    Event e;
    e.type = Event::Type::kFinished;
    GenerateResult& g = e.result;
    g.n_prompt = static_cast<int64_t>(r.n_prompt_fed) - r.n_cached;
    g.n_generated = r.out->n_generated();
    g.prompt_seconds = seconds_between(r.admitted, r.prompt_computed ? r.prompt_done : now);
    g.generate_seconds = r.prompt_computed ? seconds_between(r.prompt_done, now) : 0.0;
    g.finish = reason;
    g.confidence = r.out->confidence();
    g.text = r.out->text();
    g.answer = r.out->answer();
    e.n_cached = r.n_cached;
    e.n_shifted = r.n_shifted;
    e.queue_seconds = seconds_between(r.submitted, r.admitted);
    e.first_token_seconds = r.sampled ? seconds_between(r.submitted, r.first_token) : 0.0;
    send(r.handle, std::move(e));
    end_running(seq);
}

void Scheduler::Impl::fail(int32_t seq, const Status& error) {
    Event e;
    e.type = Event::Type::kFailed;
    e.error = error;
    send(slots[static_cast<size_t>(seq)].run->handle, std::move(e));
    end_running(seq);
}

void Scheduler::Impl::end_running(int32_t seq) {
    Slot& s = slots[static_cast<size_t>(seq)];
    if (s.run->n_shifted > 0) {  // the prefix cache keeps only what a fresh computation would give
        const size_t keep = n_shareable(s);
        cache.seq_rm(seq, static_cast<int32_t>(keep), -1);
        s.tokens.resize(keep);
    }
    if (s.run->sampler) spare_samplers.push_back(std::move(*s.run->sampler));
    s.run.reset();
    s.last_used = Clock::now();
    order.erase(std::find(order.begin(), order.end(), seq));
    std::lock_guard<std::mutex> lock(mu);
    --n_running;
}

sampling::Sampler Scheduler::Impl::make_sampler(const sampling::SamplingParams& params) {
    Result<sampling::Sampler> sampler = sampling::Sampler::create(params, tokenizer.n_vocab());
    SINAN_CHECK(sampler.ok(), "scheduler: sampling params were validated at submit: " + sampler.message());
    ++totals.samplers;
    return std::move(sampler).value();
}

sampling::Sampler Scheduler::Impl::new_sampler(const sampling::SamplingParams& params) {
    // The params were validated at submit.
    if (spare_samplers.empty()) return make_sampler(params);
    sampling::Sampler sampler = std::move(spare_samplers.back());
    spare_samplers.pop_back();
    const Status restarted = sampler.restart(params);
    SINAN_CHECK(restarted.is_ok(), "scheduler: sampling params were validated at submit: " + restarted.message());
    return sampler;
}

int64_t prompt_chunk(const SchedulerOptions& o, int64_t n_decode, double seconds_per_token) {
    const int64_t room = o.n_batch - n_decode;
    if (n_decode == 0 || o.prompt_step_seconds <= 0 || seconds_per_token <= 0) return room;
    const double timed = o.prompt_step_seconds / seconds_per_token;  // may be huge: compared as double
    return timed >= static_cast<double>(room) ? room
                                              : std::min(room, std::max(kMinPromptChunk, static_cast<int64_t>(timed)));
}

// ---- Scheduler ----

namespace {

// window: the model's sliding window (0: none).
SchedulerOptions effective(SchedulerOptions o, int64_t window) {
    o.n_parallel = std::clamp(o.n_parallel, 1, model::KvCache::kMaxSequences);
    o.n_ctx = std::max<int64_t>(o.n_ctx, 2);
    o.n_batch = std::max<int64_t>(o.n_batch, o.n_parallel);
    const int64_t per_sequence = window > 0 ? std::min(o.n_ctx, window + o.n_batch) : o.n_ctx;
    if (o.n_cells <= 0) o.n_cells = per_sequence * o.n_parallel;
    if (o.n_cells < per_sequence) o.n_ctx = o.n_cells;
    o.max_queue = std::max(o.max_queue, 0);
    return o;
}

}  // namespace

Scheduler::Scheduler(model::Model& model, const text::Tokenizer& tokenizer, const SchedulerOptions& options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(effective(options, model.hparams().n_swa)),
      impl_(std::make_unique<Impl>(model, tokenizer, options_)) {
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        impl_->stop = true;
    }
    impl_->wake.notify_all();
    thread_.join();
    Event failed;
    failed.type = Event::Type::kFailed;
    failed.error = Status::error("the scheduler is shutting down; the request was not finished");
    for (Impl::Waiting& w : impl_->waiting) w.handle->push(failed);
    for (Impl::Slot& s : impl_->slots)
        if (s.run) s.run->handle->push(failed);
}

Scheduler::Submitted Scheduler::submit(Request request) {
    Submitted r;
    auto invalid = [&](std::string message) {
        r.error = SubmitError::kInvalid;
        r.message = std::move(message);
        return r;
    };
    const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
    if (n_prompt == 0) return invalid("prompt: is empty; send at least one token");
    if (n_prompt >= options_.n_ctx)
        return invalid("prompt: " + std::to_string(n_prompt) + " tokens, but the context holds " +
                       std::to_string(options_.n_ctx) + " with room for at least one new token; shorten the prompt");
    for (int32_t t : request.prompt)
        if (!tokenizer_.is_valid_id(t) || t >= model_.hparams().n_vocab)
            return invalid(
                "prompt: token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                std::to_string(std::min(tokenizer_.n_vocab(), static_cast<int32_t>(model_.hparams().n_vocab)) - 1) +
                ")");
    if (request.n_keep < -1)
        return invalid("n_keep: " + std::to_string(request.n_keep) +
                       " is not a token count; use 0 or more, or -1 for the prompt");
    if (request.options.n_predict == 0 || request.options.n_predict < -1)
        return invalid("n_predict: " + std::to_string(request.options.n_predict) +
                       " is not a token count; use at least 1, or -1 for no limit");
    if (Status s = sampling::validate(request.options.sampling, tokenizer_.n_vocab()); !s.is_ok())
        return invalid(s.message());
    if (request.max_reasoning_tokens >= 0 && !tokenizer_.find_token("</think>"))
        return invalid("max_reasoning_tokens: the model has no </think> token, so reasoning cannot be cut short");

    const Clock::time_point now = Clock::now();
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        if (impl_->draining || impl_->stop) {
            r.error = SubmitError::kShuttingDown;
            r.message = "the server is shutting down and takes no new requests";
            return r;
        }
        if (static_cast<int64_t>(impl_->waiting.size()) >= options_.max_queue) {
            r.error = SubmitError::kQueueFull;
            r.message = "the queue is full (" + std::to_string(options_.max_queue) + " requests waiting); retry later";
            return r;
        }
        r.handle = std::shared_ptr<RequestHandle>(new RequestHandle(impl_->next_id++));
        impl_->waiting.push_back({std::move(request), r.handle, now});
        impl_->stats.waiting = static_cast<int32_t>(impl_->waiting.size());
    }
    impl_->wake.notify_one();
    return r;
}

void Scheduler::drain(std::chrono::milliseconds grace) {
    Impl& s = *impl_;
    std::unique_lock<std::mutex> lock(s.mu);
    s.draining = true;
    auto idle = [&] { return s.stop || (s.waiting.empty() && s.n_running == 0); };
    if (s.settled.wait_for(lock, grace, idle)) return;
    s.cancel_all.store(true);
    s.wake.notify_all();
    s.settled.wait(lock, idle);
}

SchedulerStats Scheduler::stats() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->stats;
}

// ---- the engine loop ----

void Scheduler::loop() { impl_->run(); }

}  // namespace sinan::engine
