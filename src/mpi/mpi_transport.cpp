// mpi_pool's transport: starting, greeting, watching and stopping worker ranks, and moving tasks
// and replies through MPI (see mpi_transport.hpp).
#include "mpi/mpi_transport.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <thread>

#include "fronta/detail/describe.hpp"
#include "mpi/runtime.hpp"
#include "remote/handshake.hpp"

namespace fronta::mpi {
namespace {

// How long the dispatcher watches for the next submit before it sleeps. (Yielding pollers cost
// little even with more ranks than cores; sleeping instead made a round trip 30 times slower.)
constexpr std::chrono::microseconds idle_watch{50};
// Polls (with yields) for a reply before sleeping in steps.
constexpr unsigned reply_spin_rounds = 200;
// How often workers on this machine are looked at while anything is in flight.
constexpr auto watch_interval = std::chrono::milliseconds(50);

worker_rank& as_rank(remote::worker& w) { return static_cast<worker_rank&>(w); }

bool process_alive(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() || (line[close + 2] != 'Z' && line[close + 2] != 'X');
}

// Sleeps until the engine's wake descriptor is readable or `pause` passed (sub-millisecond).
void sleep_on(remote::engine& e, std::chrono::nanoseconds pause) {
    if (!e.may_sleep()) return;
    pollfd wake{e.wake_fd(), POLLIN, 0};
    timespec limit{};
    const bool forever = pause == std::chrono::nanoseconds::max();
    if (!forever) {
        limit.tv_sec = static_cast<time_t>(pause.count() / 1'000'000'000);
        limit.tv_nsec = static_cast<long>(pause.count() % 1'000'000'000);
    }
    if (ppoll(&wake, 1, forever ? nullptr : &limit, nullptr) > 0) e.drain_wake();
    e.awake();
}

std::chrono::nanoseconds until_deadline(clock::time_point until) {
    if (until == clock::time_point::max()) return std::chrono::nanoseconds::max();
    return std::max(std::chrono::nanoseconds(0), until - clock::now());
}

}  // namespace

mpi_transport::mpi_transport(const mpi_pool_options& options) : options_(options), out_(options.max_piece_bytes) {
    if (options_.max_piece_bytes < min_piece || options_.max_piece_bytes > max_piece_limit)
        throw std::invalid_argument("mpi_pool: max_piece_bytes must be between " + std::to_string(min_piece) + " and " +
                                    std::to_string(max_piece_limit));
    try {
        ensure_started();
    } catch (const mpi_error& e) {
        throw broken_executor(std::string("mpi_pool: MPI could not start: ") + e.what());
    }
    mpi_launch launch = options_.launch;
    if (launch == mpi_launch::automatic) launch = launched_with_world() ? mpi_launch::world : mpi_launch::spawn;
    world_launch_ = launch == mpi_launch::world;
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int name_length = 0;
    MPI_Get_processor_name(name, &name_length);
    own_host_.assign(name, static_cast<std::size_t>(name_length));
    pool_started();
}

mpi_transport::~mpi_transport() { pool_ended(); }

std::size_t mpi_transport::default_workers() const {
    if (world_launch_) return launched_with_world() ? static_cast<std::size_t>(world_size() - 1) : 0;
    return std::max(1u, std::thread::hardware_concurrency());
}

std::vector<std::string> mpi_transport::hosts() const {
    std::lock_guard lock(hosts_mutex_);
    return hosts_;
}

void mpi_transport::workers_changed(const std::vector<std::unique_ptr<remote::worker>>& workers) {
    std::vector<std::string> hosts;
    ranks_.clear();
    for (auto& w : workers) {
        ranks_.push_back(&as_rank(*w));
        if (!w->gone) hosts.push_back(as_rank(*w).host);
    }
    std::lock_guard lock(hosts_mutex_);
    hosts_ = std::move(hosts);
}

void mpi_transport::dispatcher_started() {
    prctl(PR_SET_TIMERSLACK, 1000UL);  // sleeps of tens of µs mean tens of µs, not 50 more
    quiet_.emplace();                  // sends to a worker that died raise SIGPIPE (see spawn.hpp)
}

// ---- starting workers ------------------------------------------------------------------------

std::vector<std::unique_ptr<remote::worker>> mpi_transport::start_workers(std::size_t n) {
    sigpipe_blocked quiet;  // a worker may die while spawned or greeted
    std::vector<std::unique_ptr<remote::worker>> ranks = world_launch_ ? join_world(n) : spawn_group(n);
    try {
        handshake(ranks);
    } catch (...) {
        std::vector<worker_rank*> members;
        for (auto& w : ranks) members.push_back(&as_rank(*w));
        end_group(members);
        throw;
    }
    return ranks;
}

std::vector<std::unique_ptr<remote::worker>> mpi_transport::join_world(std::size_t n) {
    if (joined_) throw broken_executor("mpi_pool: the world's worker ranks cannot be replaced");
    if (!launched_with_world())
        throw invalid_state_error(
            "mpi_pool: launch = world needs a program started by mpirun/srun with at least 2 ranks");
    if (world_rank() != 0) throw invalid_state_error("mpi_pool: only rank 0 runs main and creates pools");
    const std::size_t available = static_cast<std::size_t>(world_size() - 1);
    if (n > available)
        throw std::invalid_argument("mpi_pool: asked for " + std::to_string(n) + " workers but only " +
                                    std::to_string(available) + " other ranks run (mpirun -n " + std::to_string(n + 1) +
                                    " gives " + std::to_string(n) + ")");
    if (!claim_world())
        throw invalid_state_error(
            "mpi_pool: another mpi_pool uses the world's worker ranks; shut it down first (one pool at a time in a "
            "world launch)");
    joined_ = true;
    comm_ = world_comm();
    std::vector<std::unique_ptr<remote::worker>> ranks;
    for (std::size_t i = 0; i < n; ++i) {
        auto w = std::make_unique<worker_rank>();
        w->rank = static_cast<int>(i + 1);
        w->stoppable = false;  // a world rank cannot be killed without ending the job
        ranks.push_back(std::move(w));
    }
    return ranks;
}

std::vector<std::unique_ptr<remote::worker>> mpi_transport::spawn_group(std::size_t n) {
    if (spawned_) std::fprintf(stderr, "fronta: mpi_pool: starting %zu new workers\n", n);
    try {
        comm_ = mpi::spawn_group(n, options_.spawn_info);
    } catch (const mpi_error& e) {
        throw broken_executor(std::string("mpi_pool: could not start workers: ") + e.what());
    }
    spawned_ = true;
    std::vector<std::unique_ptr<remote::worker>> ranks;
    for (std::size_t i = 0; i < n; ++i) {
        auto w = std::make_unique<worker_rank>();
        w->rank = static_cast<int>(i);
        ranks.push_back(std::move(w));
    }
    return ranks;
}

// Every worker answers the hello (the client's build id) with "ok\n<host>\n<pid>" or why not.
void mpi_transport::handshake(std::vector<std::unique_ptr<remote::worker>>& ranks) {
    auto serial = serialize_calls();
    sender hellos(options_.max_piece_bytes);
    for (auto& w : ranks) hellos.post(comm_, as_rank(*w).rank, hello_tag, 0, remote::hello_from_client());
    std::size_t answered = 0;
    std::string refusal;
    const auto deadline = clock::now() + handshake_limit;
    backoff idle;
    while (answered < ranks.size()) {
        hellos.progress();
        auto m = try_receive(comm_, MPI_ANY_SOURCE, hello_tag);
        if (!m) {
            if (clock::now() > deadline)
                throw broken_executor("mpi_pool: " + std::to_string(ranks.size() - answered) +
                                      " workers did not answer within " + fronta::detail::describe(handshake_limit));
            idle.pause();
            continue;
        }
        idle.reset();
        ++answered;
        auto it = std::find_if(ranks.begin(), ranks.end(), [&](auto& w) { return as_rank(*w).rank == m->source; });
        if (it == ranks.end()) continue;
        worker_rank& w = as_rank(**it);
        const std::string_view answer = m->payload.view();
        if (answer.substr(0, 3) != "ok\n") {
            refusal = std::string(answer);
            continue;
        }
        const std::string rest(answer.substr(3));
        const auto newline = rest.find('\n');
        w.host = rest.substr(0, newline);
        if (newline != std::string::npos) w.pid = static_cast<pid_t>(std::atol(rest.c_str() + newline + 1));
        w.local = w.pid > 0 && w.host == own_host_;
        w.name = "worker rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + " on " + w.host + ")";
        w.ready = true;
    }
    hellos.finish();
    if (!refusal.empty()) throw broken_executor("mpi_pool: " + refusal);
}

// ---- sending ---------------------------------------------------------------------------------

void mpi_transport::send_task(remote::worker& w, std::uint64_t id, remote::remote_task& t) {
    std::string bytes = remote::to_bytes(t.call);
    // The bytes above hold the arguments: keep one copy, unless the task may have to run again.
    if (t.retries_left <= 0) t.call.arguments = std::string();
    auto serial = serialize_calls();
    out_.post(comm_, as_rank(w).rank, task_tag, id, std::move(bytes));
}

void mpi_transport::send_initializer(remote::worker& w, const std::string& request) {
    auto serial = serialize_calls();
    out_.post(comm_, as_rank(w).rank, initialize_tag, 0, std::string_view(request));
}

void mpi_transport::flush() {
    auto serial = serialize_calls();
    out_.progress();
}

// ---- waiting for replies ---------------------------------------------------------------------

void mpi_transport::wait(remote::engine& e, clock::time_point until, bool busy) {
    bool expecting = busy;
    for (auto* w : ranks_) expecting = expecting || (w->initializing && !w->gone);
    if (!expecting && out_.idle()) {
        // Nothing can arrive. The next submit often follows within microseconds (a loop of
        // submit + get): watch for it for a moment, then sleep until a submit, shutdown or deadline.
        const auto watch_until = clock::now() + idle_watch;
        while (!e.work_pending() && clock::now() < watch_until) std::this_thread::yield();
        if (!e.work_pending()) sleep_on(e, until_deadline(until));
        idle_rounds_ = 0;
        return;
    }
    // Replies are expected: poll here (the engine's loop has more to do per round than a reply
    // needs) until one comes, a submit, a deadline, or the spin is over.
    for (;;) {
        bool progress = false;
        bool sending = false;
        {
            auto serial = serialize_calls();
            progress = receive(e);
            sending = !out_.progress();
        }
        if (progress) {
            idle_rounds_ = 0;
            return;
        }
        if (e.work_pending() || clock::now() >= until) return;
        // A large send moves only while this side calls into MPI: keep polling.
        if (sending || ++idle_rounds_ < reply_spin_rounds) {
            std::this_thread::yield();
            if (idle_rounds_ % 32 == 0) return;  // now and then, the engine's checks (deaths)
            continue;
        }
        break;
    }
    // Waiting for replies: sleep in steps that grow but stay well below how long the tasks in
    // flight usually take (a reply is not left waiting for long), and that a submit cuts short.
    const unsigned step = std::min(idle_rounds_ - reply_spin_rounds, 7u);
    const std::chrono::nanoseconds pause =
        std::min({std::chrono::microseconds(10 << step), reply_poll_limit(),
                  std::chrono::duration_cast<std::chrono::microseconds>(until_deadline(until))});
    sleep_on(e, pause);
}

// An eighth of the shortest usual task time among busy workers, within 10 µs .. 1 ms.
std::chrono::microseconds mpi_transport::reply_poll_limit() const {
    double shortest = 1.0;
    for (const auto* w : ranks_)
        if (w->busy()) shortest = std::min(shortest, w->average_task_seconds);
    const auto limit = std::chrono::microseconds(static_cast<long>(shortest * 1e6 / 8));
    return std::clamp(limit, std::chrono::microseconds(10), std::chrono::microseconds(1000));
}

bool mpi_transport::receive(remote::engine& e) {
    if (comm_ == MPI_COMM_NULL) return false;
    const auto find = [&](int rank) -> worker_rank* {
        for (auto* w : ranks_)
            if (w->rank == rank && !w->gone) return w;
        throw mpi_error("a message from rank " + std::to_string(rank) + ", which is not a worker of this pool");
    };
    bool any = false;
    while (auto m = try_receive(comm_, MPI_ANY_SOURCE, initialize_tag)) {
        any = true;
        e.initialized(*find(m->source), m->payload.view());
    }
    while (auto m = try_receive(comm_, MPI_ANY_SOURCE, reply_tag)) {
        any = true;
        worker_rank& w = *find(m->source);
        remote::remote_task* t = nullptr;
        try {
            t = e.take_reply(w, m->id);
        } catch (const remote::engine::unexpected_reply& error) {
            throw mpi_error("rank " + std::to_string(m->source) + ": " + error.what());
        }
        if (t != nullptr) {
            remote::attachments none;
            t->complete(m->payload.view(), none);
        }
    }
    return any;
}

// ---- deaths and stops --------------------------------------------------------------------------

// Workers on this machine are watched while anything is in flight (a send to one too: a send to a
// dead worker never completes).
clock::time_point mpi_transport::check(remote::engine& e) {
    bool expecting = !out_.idle();
    for (auto* w : ranks_) expecting = expecting || (!w->gone && (w->busy() || w->initializing));
    if (!expecting) return clock::time_point::max();
    const auto now = clock::now();
    if (now - last_watch_ < watch_interval) return last_watch_ + watch_interval;
    last_watch_ = now;
    for (auto* w : ranks_) {
        if (w->gone || w->dead || !w->local || process_alive(w->pid)) continue;
        w->dead = true;
        if (!spawned_) {
            e.lost(*w, "died");  // world: the others go on (mpirun decides their fate)
            continue;
        }
        kill_group(e, w, nullptr, "was stopped because " + w->name + " died and took down its group");
        break;
    }
    return now + watch_interval;
}

// A spawned group ends together: what is left of it here is killed, the tasks of all fail (or run
// again), and the engine starts a new group. Sends still pending went to the old group and can
// never complete.
void mpi_transport::kill_group(remote::engine& e, const worker_rank* dead, remote::worker* spared,
                               const std::string& why) {
    for (auto* w : ranks_)
        if (!w->gone && !w->dead && w->local) kill(w->pid, SIGKILL);
    group_over(ranks_);
    out_.abandon();
    comm_ = MPI_COMM_NULL;  // disconnecting would wait for the dead forever
    for (auto* w : ranks_) {
        if (w->gone || w == spared) continue;
        w->dead = true;
        if (w == dead)
            e.lost(*w, "died");
        else
            e.lost(*w, why, true, [&](const std::string& task) { return why + ", while running " + task; });
    }
}

bool mpi_transport::stop(remote::engine& e, remote::worker& w, bool kill) {
    auto& r = as_rank(w);
    if (kill) {
        if (!spawned_) return false;  // a world rank: only the job's end stops it
        kill_group(e, nullptr, &w, "was stopped with its group when a task ran past its timeout on " + w.name);
        return true;
    }
    if (r.dead || r.told_to_stop || comm_ == MPI_COMM_NULL) return true;
    r.told_to_stop = true;
    try {
        auto serial = serialize_calls();
        send_control(comm_, r.rank, stop_tag, "");
    } catch (const mpi_error& error) {
        std::fprintf(stderr, "fronta: mpi_pool could not stop worker %d: %s\n", r.rank, error.what());
    }
    return true;
}

// The dispatcher ends: what was not told to stop yet is told now.
void mpi_transport::finish() noexcept {
    bool any_dead = false;
    for (auto* w : ranks_) any_dead = any_dead || w->dead;
    if (any_dead)
        out_.abandon();  // a send to a dead worker never completes
    else
        out_.finish();
    end_group(ranks_);
    ranks_.clear();
    quiet_.reset();
}

// Spawned workers exit; world ranks wait for the next pool.
void mpi_transport::end_group(const std::vector<worker_rank*>& members) noexcept {
    if (comm_ == MPI_COMM_NULL) {
        if (world_launch_ && joined_) release_world();
        joined_ = false;
        return;
    }
    auto serial = serialize_calls();
    bool any_dead = false;
    for (auto* w : members) {
        any_dead = any_dead || w->dead;
        if (w->dead || w->told_to_stop) continue;
        w->told_to_stop = true;
        try {
            send_control(comm_, w->rank, stop_tag, "");
        } catch (const mpi_error& e) {
            std::fprintf(stderr, "fronta: mpi_pool could not stop worker %d: %s\n", w->rank, e.what());
        }
    }
    if (spawned_) {
        // Disconnecting waits for every member, and a dead one never comes: then let it be.
        if (!any_dead) MPI_Comm_disconnect(&comm_);
        group_over(members);
    } else {
        release_world();
        joined_ = false;
    }
    comm_ = MPI_COMM_NULL;
}

// This spawned group is over: the next spawn in this process waits until its processes here have
// exited (see spawn.hpp).
void mpi_transport::group_over(const std::vector<worker_rank*>& members) noexcept {
    std::vector<pid_t> pids;
    for (const auto* w : members)
        if (w->local) pids.push_back(w->pid);
    try {
        group_ended(pids);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta: mpi_pool: %s\n", e.what());
    }
}

// The workers cannot be reached reliably: leave them to MPI's end of the job.
void mpi_transport::abandon() noexcept {
    out_.abandon();
    quiet_.reset();
}

// An MPI error can be how a worker's death shows first: name the initializer if it killed one.
std::string mpi_transport::explain(const std::string& failure) const {
    for (const auto* w : ranks_)
        if (w->initializing && w->local && !process_alive(w->pid) && options_.initializer)
            return "mpi_pool: the initializer " + options_.initializer->description() + " killed " + w->name;
    return "mpi_pool: MPI failed: " + failure;
}

}  // namespace fronta::mpi
