// mpi_pool: one dispatcher thread per pool makes every MPI call of the client side. Submitters
// (any number of threads) only touch a mutex-protected inbox. The dispatcher hands tasks to
// workers with free capacity (a free worker takes the next task), sends ahead more of them when
// tasks are short, and completes futures from replies, which each worker sends in order.
#include "fronta/mpi_pool.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threads/callback_runner.hpp"
#include "mpi/runtime.hpp"
#include "mpi/spawn.hpp"
#include "mpi/transport.hpp"

namespace fronta {
namespace {


using clock = std::chrono::steady_clock;

// How long the dispatcher watches for the next submit before it sleeps. (Yielding pollers cost
// little even with more ranks than cores; sleeping instead made a round trip 30 times slower.)
constexpr std::chrono::microseconds idle_watch{50};
// Polls (with yields) for a reply before sleeping in steps.
constexpr unsigned reply_spin_rounds = 200;

// How long workers may take to answer the handshake.
constexpr auto handshake_limit = std::chrono::seconds(60);

struct worker_rank {
    int rank = -1;
    std::string host;
    pid_t pid = -1;
    bool local = false;  // on this machine: its process can be watched
    bool dead = false;
    bool initializing = false;  // runs the pool's initializer: takes no task until it answers
    std::deque<std::pair<std::uint64_t, remote::remote_task*>> tasks;  // sent, in order
    clock::time_point head_started{};
    double average_task_seconds = 1e-3;
};

class mpi_pool_impl final : public detail::remote_sink {
public:
    explicit mpi_pool_impl(mpi_pool_options options) : options_(std::move(options)) {
        if (!detail::initialized())
            throw invalid_state_error(
                "mpi_pool: call fronta::init(argc, argv) at the top of main: worker ranks serve inside it");
        if (options_.max_piece_bytes < mpi::min_piece || options_.max_piece_bytes > mpi::max_piece_limit)
            throw std::invalid_argument("mpi_pool: max_piece_bytes must be between " + std::to_string(mpi::min_piece) +
                                        " and " + std::to_string(mpi::max_piece_limit));
        try {
            mpi::ensure_started();
        } catch (const mpi::mpi_error& e) {
            throw broken_executor(std::string("mpi_pool: MPI could not start: ") + e.what());
        }
        mpi::sigpipe_blocked quiet;  // a worker may die while spawned or greeted
        mpi_launch launch = options_.launch;
        if (launch == mpi_launch::automatic)
            launch = mpi::launched_with_world() ? mpi_launch::world : mpi_launch::spawn;
        if (launch == mpi_launch::world)
            join_world();
        else
            spawn_workers();
        mpi::pool_started();
        try {
            handshake();
        } catch (...) {
            end_workers();
            mpi::pool_ended();
            throw;
        }
        size_ = workers_.size();
        dispatcher_ = std::thread([this] { run(); });
    }

    ~mpi_pool_impl() override {
        shutdown(true, false);
        mpi::pool_ended();
    }

    bool passes_descriptors() const noexcept override { return false; }

    void enqueue(detail::task* t) override {
        t->fail(std::make_exception_ptr(std::logic_error("mpi_pool runs remote tasks only")));
        throw std::logic_error("mpi_pool runs remote tasks only");
    }

    void enqueue_remote(remote::remote_task* t) override {
        {
            std::lock_guard lock(mutex_);
            if (!broken_.empty()) {
                const std::string message = broken_;
                t->fail(std::make_exception_ptr(broken_executor(message)));
                throw broken_executor(message);
            }
            if (stopping_) {
                t->cancel();
                throw shutdown_error("mpi_pool: submit after shutdown(); create a new pool or submit before shutting down");
            }
            inbox_.push_back(t);
            inbox_size_.store(inbox_.size(), std::memory_order_release);
        }
        wake_.notify_one();
    }

    void shutdown(bool wait, bool cancel_futures) override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            if (cancel_futures) cancel_requested_ = true;
        }
        wake_.notify_one();
        if (wait) {
            {
                std::lock_guard join_lock(join_mutex_);
                // (The dispatcher runs no user code, so this is never the dispatcher itself.)
                if (dispatcher_.joinable() && dispatcher_.get_id() != std::this_thread::get_id()) dispatcher_.join();
            }
            // Every future is done now; their callbacks may still be running. From a callback
            // (even one that destroys the pool) this waits for the others, not for itself.
            callbacks_.stop();
        }
    }

    std::size_t concurrency() const noexcept override { return size_; }

    bool spawned() const noexcept { return spawned_; }
    std::vector<std::string> hosts() const {
        std::lock_guard lock(mutex_);  // the dispatcher replaces workers under it
        std::vector<std::string> out;
        for (const auto& w : workers_) out.push_back(w.host);
        return out;
    }

private:
    // ---- workers ---------------------------------------------------------------------------------

    void join_world() {
        if (!mpi::launched_with_world())
            throw invalid_state_error(
                "mpi_pool: launch = world needs a program started by mpirun/srun with at least 2 ranks");
        if (mpi::world_rank() != 0) throw invalid_state_error("mpi_pool: only rank 0 runs main and creates pools");
        const std::size_t available = static_cast<std::size_t>(mpi::world_size() - 1);
        const std::size_t n = options_.workers == 0 ? available : options_.workers;
        if (n > available)
            throw std::invalid_argument("mpi_pool: asked for " + std::to_string(n) + " workers but only " +
                                        std::to_string(available) + " other ranks run (mpirun -n " +
                                        std::to_string(n + 1) + " gives " + std::to_string(n) + ")");
        if (!mpi::claim_world())
            throw invalid_state_error(
                "mpi_pool: another mpi_pool uses the world's worker ranks; shut it down first (one pool at a time "
                "in a world launch)");
        comm_ = mpi::world_comm();
        for (std::size_t i = 0; i < n; ++i) add_worker(static_cast<int>(i + 1));
    }

    void spawn_workers() {
        const std::size_t n =
            options_.workers != 0 ? options_.workers : std::max(1u, std::thread::hardware_concurrency());
        try {
            comm_ = mpi::spawn_group(n, options_.spawn_info);
        } catch (const mpi::mpi_error& e) {
            throw broken_executor(std::string("mpi_pool: could not start workers: ") + e.what());
        }
        spawned_ = true;
        for (std::size_t i = 0; i < n; ++i) add_worker(static_cast<int>(i));
    }

    void handshake() {
        auto serial = mpi::serialize_calls();
        mpi::sender out(options_.max_piece_bytes);
        for (auto& w : workers_) out.post(comm_, w.rank, mpi::hello_tag, 0, std::string_view(detail::build_id()));
        std::size_t answered = 0;
        std::string refusal;
        char name[MPI_MAX_PROCESSOR_NAME] = {};
        int name_length = 0;
        MPI_Get_processor_name(name, &name_length);
        const std::string own_host(name, static_cast<std::size_t>(name_length));
        const auto deadline = clock::now() + handshake_limit;
        mpi::backoff idle;
        while (answered < workers_.size()) {
            out.progress();
            auto m = mpi::try_receive(comm_, MPI_ANY_SOURCE, mpi::hello_tag);
            if (!m) {
                if (clock::now() > deadline)
                    throw broken_executor("mpi_pool: " + std::to_string(workers_.size() - answered) +
                                          " workers did not answer within 60 s");
                idle.pause();
                continue;
            }
            idle.reset();
            ++answered;
            worker_rank* w = find(m->source);
            if (w == nullptr) continue;
            const std::string_view answer = m->payload.view();
            if (answer.substr(0, 3) == "ok\n") {
                std::lock_guard lock(mutex_);
                const std::string rest(answer.substr(3));
                const auto newline = rest.find('\n');
                w->host = rest.substr(0, newline);
                if (newline != std::string::npos) w->pid = static_cast<pid_t>(std::atol(rest.c_str() + newline + 1));
                w->local = w->pid > 0 && w->host == own_host;
            } else {
                refusal = std::string(answer);
            }
        }
        if (refusal.empty() && options_.initializer)
            for (auto& w : workers_) {
                w.initializing = true;
                out.post(comm_, w.rank, mpi::initialize_tag, 0, std::string_view(options_.initializer->bytes()));
            }
        out.finish();
        if (!refusal.empty()) throw broken_executor("mpi_pool: " + refusal);
    }

    void add_worker(int rank) {
        std::lock_guard lock(mutex_);
        workers_.emplace_back();
        workers_.back().rank = rank;
    }

    worker_rank* find(int rank) {
        for (auto& w : workers_)
            if (w.rank == rank) return &w;
        return nullptr;
    }

    // Every worker died: nothing can be said to them, and disconnecting would wait for them forever.
    void leave_dead_workers() noexcept {
        if (spawned_)
            group_over();
        else
            mpi::release_world();
        comm_ = MPI_COMM_NULL;
    }

    // This spawned group is over: the next spawn in this process waits until its processes here
    // have exited (see spawn.hpp).
    void group_over() noexcept {
        std::vector<pid_t> pids;
        for (const auto& w : workers_)
            if (w.local) pids.push_back(w.pid);
        try {
            mpi::group_ended(pids);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fronta: mpi_pool: %s\n", e.what());
        }
    }

    // Spawned workers exit; world ranks wait for the next pool. Called once, by the dispatcher (or
    // the constructor before there is one).
    void end_workers() noexcept {
        if (comm_ == MPI_COMM_NULL) return;
        auto serial = mpi::serialize_calls();
        bool any_dead = false;
        for (auto& w : workers_) {
            any_dead = any_dead || w.dead;
            if (w.dead) continue;
            try {
                mpi::send_control(comm_, w.rank, mpi::stop_tag, "");
            } catch (const mpi::mpi_error& e) {
                std::fprintf(stderr, "fronta: mpi_pool could not stop worker %d: %s\n", w.rank, e.what());
            }
        }
        if (spawned_) {
            // Disconnecting waits for every member, and a dead one never comes: then let it be.
            if (!any_dead) MPI_Comm_disconnect(&comm_);
            group_over();
        } else {
            mpi::release_world();
        }
        comm_ = MPI_COMM_NULL;
    }

    // ---- the dispatcher ----------------------------------------------------------------------------

    // Short tasks go several at a time to a worker, so it never waits for the dispatcher; long
    // ones one at a time, so a free worker is never kept waiting behind a busy one.
    static std::size_t depth(const worker_rank& w) {
        if (w.average_task_seconds < 100e-6) return 16;
        if (w.average_task_seconds < 1e-3) return 4;
        if (w.average_task_seconds < 10e-3) return 2;
        return 1;
    }

    void run() {
        detail::callback_runner::installed_here callbacks_elsewhere(callbacks_);
        prctl(PR_SET_TIMERSLACK, 1000UL);  // sleeps of tens of µs mean tens of µs, not 50 more
        mpi::sigpipe_blocked quiet;  // sends to a worker that died raise SIGPIPE (see spawn.hpp)
        mpi::sender out(options_.max_piece_bytes);
        std::size_t in_flight = 0;
        unsigned idle_rounds = 0;
        auto last_watch = clock::now();
        try {
            for (;;) {
                bool stopping = false;
                {
                    std::unique_lock lock(mutex_);
                    for (auto* t : inbox_) queue_.push_back(t);
                    inbox_.clear();
                    inbox_size_.store(0, std::memory_order_relaxed);
                    stopping = stopping_;
                    if (cancel_requested_) {
                        for (auto* t : queue_) t->cancel();
                        queue_.clear();
                    }
                    // An initializer's reply is awaited like a task's: one left unread could be taken
                    // for a message of the next pool (MPI may reuse the communicator's context id).
                    const bool initializing = awaiting_initializers();
                    if (stopping && queue_.empty() && in_flight == 0 && !initializing) break;
                    if (queue_.empty() && in_flight == 0 && !initializing && out.idle()) {
                        // Nothing can arrive. The next submit often follows within microseconds
                        // (a loop of submit + get): watch for it for a moment, then sleep until a
                        // submit or shutdown.
                        lock.unlock();
                        const auto watch_until = clock::now() + idle_watch;
                        while (inbox_size_.load(std::memory_order_acquire) == 0 && clock::now() < watch_until)
                            std::this_thread::yield();
                        lock.lock();
                        wake_.wait(lock, [&] { return !inbox_.empty() || stopping_; });
                        idle_rounds = 0;
                        continue;
                    }
                }
                bool progress = false;
                bool sending = false;
                {
                    auto serial = mpi::serialize_calls();
                    progress = assign(out, in_flight);
                    progress = receive_replies(in_flight) || progress;
                    sending = !out.progress();
                }
                if (progress) {
                    idle_rounds = 0;
                    continue;
                }
                // Workers are watched while anything is in flight, a send to one too: a send to a
                // dead worker never completes.
                if (clock::now() - last_watch > std::chrono::milliseconds(50)) {
                    last_watch = clock::now();
                    if (!watch_workers(out, in_flight)) {
                        out.abandon();
                        leave_dead_workers();
                        return;
                    }
                }
                if (sending) {
                    // A large send moves only while this side calls into MPI: keep polling.
                    std::this_thread::yield();
                    continue;
                }
                // Waiting for replies: poll with yields for a while, then sleep in steps that grow
                // but stay well below how long the tasks in flight usually take (a reply is not
                // left waiting for long), and that a submit cuts short.
                if (++idle_rounds < reply_spin_rounds) {
                    std::this_thread::yield();
                } else {
                    const unsigned step = std::min(idle_rounds - reply_spin_rounds, 7u);
                    const auto pause = std::min(std::chrono::microseconds(10 << step),
                                                reply_poll_limit());
                    std::unique_lock lock(mutex_);
                    wake_.wait_for(lock, pause, [&] { return !inbox_.empty() || stopping_ != stopping; });
                }
            }
            if (std::any_of(workers_.begin(), workers_.end(), [](const worker_rank& w) { return w.dead; }))
                out.abandon();  // a send to a dead worker never completes
            else
                out.finish();
        } catch (const std::exception& e) {
            fail_everything(explain(std::string("mpi_pool: MPI failed: ") + e.what()));
            out.abandon();
            return;  // the workers cannot be reached reliably: leave them to MPI's end of the job
        }
        end_workers();
    }

    // Workers on this machine are watched. When one's process is gone, the tasks it held fail with
    // `worker_died`. Open MPI ends a spawned group together when one member dies, so a spawned
    // pool then fails what the whole group held and spawns a new group (the pool heals). False
    // when the pool cannot go on (everything has failed).
    bool watch_workers(mpi::sender& out, std::size_t& in_flight) {
        worker_rank* dead = nullptr;
        bool died_initializing = false;
        for (auto& w : workers_)
            if (!w.dead && w.local && !process_alive(w.pid)) {
                w.dead = true;
                dead = &w;
                died_initializing = died_initializing || w.initializing;
            }
        if (dead == nullptr) return true;
        const std::string who = "worker rank " + std::to_string(dead->rank) + " (pid " + std::to_string(dead->pid) +
                                " on " + dead->host + ")";
        const std::string what = "mpi_pool: " + who + " died";
        for (auto& w : workers_) {
            if (!w.dead && !spawned_) continue;  // world: the others go on (mpirun decides their fate)
            for (auto& [id, t] : w.tasks) {
                const std::string how = &w == dead || w.dead ? " while running " : " and took down its group, stopping ";
                t->fail(std::make_exception_ptr(worker_died(what + how + t->description)));
                --in_flight;
            }
            w.tasks.clear();
        }
        if (!spawned_) {
            if (std::all_of(workers_.begin(), workers_.end(), [](const worker_rank& w) { return w.dead; })) {
                fail_everything("mpi_pool: every worker rank died");
                return false;
            }
            return true;
        }
        // A spawned group: stop what is left of it here and start a new one. Sends still pending
        // went to the old group and can never complete.
        for (auto& w : workers_)
            if (!w.dead && w.local) kill(w.pid, SIGKILL);
        group_over();
        out.abandon();
        comm_ = MPI_COMM_NULL;  // disconnecting would wait for the dead forever
        if (died_initializing) {
            fail_everything("mpi_pool: the initializer " + options_.initializer->description() + " killed " + who);
            return false;
        }
        if (++replacements_in_a_row_ > 3) {
            fail_everything(what + "; the pool gave up after replacing its workers 3 times without a success");
            return false;
        }
        std::fprintf(stderr, "fronta: %s; starting new workers\n", what.c_str());
        try {
            std::vector<worker_rank> replacement;
            {
                std::lock_guard lock(mutex_);
                workers_.swap(replacement);
            }
            spawn_workers();
            handshake();
        } catch (const std::exception& e) {
            fail_everything(what + "; new workers could not start: " + e.what());
            return false;
        }
        return true;
    }

    bool awaiting_initializers() const {
        return std::any_of(workers_.begin(), workers_.end(), [](const worker_rank& w) { return w.initializing && !w.dead; });
    }

    // An MPI error can be how a worker's death shows first: name the initializer if it killed one.
    std::string explain(const std::string& mpi_failure) const {
        for (const auto& w : workers_)
            if (w.initializing && w.local && !process_alive(w.pid))
                return "mpi_pool: the initializer " + options_.initializer->description() + " killed worker rank " +
                       std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + " on " + w.host + ")";
        return mpi_failure;
    }

    static bool process_alive(pid_t pid) {
        if (kill(pid, 0) != 0 && errno == ESRCH) return false;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return false;
        const auto close = line.rfind(')');
        return close == std::string::npos || close + 2 >= line.size() || (line[close + 2] != 'Z' && line[close + 2] != 'X');
    }

    // An eighth of the shortest usual task time among busy workers, within 10 µs .. 1 ms.
    std::chrono::microseconds reply_poll_limit() const {
        double shortest = 1.0;
        for (const auto& w : workers_)
            if (!w.tasks.empty()) shortest = std::min(shortest, w.average_task_seconds);
        const auto limit = std::chrono::microseconds(static_cast<long>(shortest * 1e6 / 8));
        return std::clamp(limit, std::chrono::microseconds(10), std::chrono::microseconds(1000));
    }

    bool assign(mpi::sender& out, std::size_t& in_flight) {
        bool sent = false;
        // Fill the least loaded workers first, one task at a time, so work spreads evenly.
        for (bool sent_any = true; sent_any && !queue_.empty();) {
            sent_any = false;
            for (auto& w : workers_) {
                if (queue_.empty()) break;
                if (w.dead || w.initializing || w.tasks.size() >= depth(w)) continue;
                remote::remote_task* t = queue_.front();
                queue_.pop_front();
                if (!t->started) {
                    if (!t->start()) {
                        t->cancel();
                        continue;
                    }
                    t->started = true;
                }
                std::string bytes;
                try {
                    bytes = remote::to_bytes(t->call);
                    t->call.arguments = std::string();  // the bytes above hold them; keep one copy
                } catch (...) {
                    t->fail(std::current_exception());
                    continue;
                }
                if (w.tasks.empty()) w.head_started = clock::now();
                w.tasks.emplace_back(++next_task_id_, t);
                ++in_flight;
                out.post(comm_, w.rank, mpi::task_tag, next_task_id_, std::move(bytes));
                sent_any = sent = true;
            }
        }
        return sent;
    }

    bool receive_replies(std::size_t& in_flight) {
        bool any = false;
        while (auto m = mpi::try_receive(comm_, MPI_ANY_SOURCE, mpi::initialize_tag)) {
            any = true;
            worker_rank* w = find(m->source);
            if (w == nullptr || !w->initializing)
                throw mpi::mpi_error("rank " + std::to_string(m->source) + " answered an initializer it was not given");
            w->initializing = false;
            try {
                remote::result_or_throw(m->payload.view());
            } catch (const std::exception& e) {
                // Tasks running on workers whose initializer succeeded finish; nothing else starts.
                break_pool("mpi_pool: the initializer " + options_.initializer->description() + " failed: " + e.what());
            }
        }
        while (auto m = mpi::try_receive(comm_, MPI_ANY_SOURCE, mpi::reply_tag)) {
            any = true;
            worker_rank* w = find(m->source);
            if (w == nullptr || w->tasks.empty() || w->tasks.front().first != m->id)
                throw mpi::mpi_error("rank " + std::to_string(m->source) + " replied to a task it was not running");
            remote::remote_task* t = w->tasks.front().second;
            w->tasks.pop_front();
            --in_flight;
            const auto now = clock::now();
            w->average_task_seconds =
                0.8 * w->average_task_seconds + 0.2 * std::chrono::duration<double>(now - w->head_started).count();
            w->head_started = now;
            remote::attachments none;
            t->complete(m->payload.view(), none);
            replacements_in_a_row_ = 0;
        }
        return any;
    }

    // Queued and later submits fail with `message`; tasks in flight go on.
    void break_pool(const std::string& message) noexcept {
        std::deque<remote::remote_task*> queued;
        {
            std::lock_guard lock(mutex_);
            if (broken_.empty()) broken_ = message;
            for (auto* t : inbox_) queue_.push_back(t);
            inbox_.clear();
            queued.swap(queue_);
        }
        const auto error = std::make_exception_ptr(broken_executor(message));
        for (auto* t : queued) t->fail(error);
    }

    void fail_everything(const std::string& message) noexcept {
        break_pool(message);
        const auto error = std::make_exception_ptr(broken_executor(message));
        for (auto& w : workers_) {
            for (auto& [id, t] : w.tasks) t->fail(error);
            w.tasks.clear();
        }
    }

    mpi_pool_options options_;
    std::size_t size_ = 0;
    int replacements_in_a_row_ = 0;  // spawned groups replaced since a task last succeeded
    MPI_Comm comm_ = MPI_COMM_NULL;
    bool spawned_ = false;
    std::vector<worker_rank> workers_;
    std::uint64_t next_task_id_ = 0;
    std::deque<remote::remote_task*> queue_;  // dispatcher only

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<remote::remote_task*> inbox_;
    std::atomic<std::size_t> inbox_size_{0};
    bool stopping_ = false;
    bool cancel_requested_ = false;
    std::string broken_;

    detail::callback_runner callbacks_{"fronta-mpi-cb"};
    std::mutex join_mutex_;
    std::thread dispatcher_;
};

mpi_pool_impl& impl_of(const std::shared_ptr<detail::task_sink>& sink) {
    return static_cast<mpi_pool_impl&>(*sink);
}

}  // namespace

mpi_pool::mpi_pool() : mpi_pool(mpi_pool_options{}) {}
mpi_pool::mpi_pool(std::size_t workers) : mpi_pool(with_workers<mpi_pool_options>(workers, "mpi_pool")) {}
mpi_pool::mpi_pool(mpi_pool_options options) : remote_executor_base(std::make_shared<mpi_pool_impl>(std::move(options))) {}

mpi_pool& mpi_pool::operator=(mpi_pool&& other) noexcept {
    take_ownership(std::move(other));
    return *this;
}

mpi_pool::~mpi_pool() { end_ownership(); }

bool mpi_pool::spawned() const { return impl_of(sink()).spawned(); }
std::vector<std::string> mpi_pool::worker_hosts() const { return impl_of(sink()).hosts(); }

std::pair<int, int> mpi_pool::world() { return {mpi::world_rank(), mpi::world_size()}; }

}  // namespace fronta
