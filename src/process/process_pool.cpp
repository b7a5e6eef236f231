// process_pool: the remote engine (src/remote/engine.hpp) driving worker processes through the
// process transport (process_transport.hpp).
#include "fronta/process_pool.hpp"

#include <thread>

#include "process/process_transport.hpp"
#include "remote/engine.hpp"

namespace fronta {
namespace {

std::shared_ptr<remote::engine> start_process_pool(const process_pool_options& options) {
    if (!detail::initialized())
        throw invalid_state_error(
            "process_pool: call fronta::init(argc, argv) at the top of main before creating a process_pool: "
            "workers are copies of this program and become workers inside fronta::init");
    remote::engine_options settings;
    settings.pool = "process_pool";
    settings.workers = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    settings.retries = options.retries;
    settings.task_timeout = options.task_timeout;
    settings.idle_timeout = options.idle_timeout;
    settings.max_tasks_per_child = options.max_tasks_per_child;
    settings.initializer = options.initializer;
    settings.handshake_limit = std::chrono::seconds(30);
    settings.callback_thread_name = "fronta-cb";
    auto pool =
        std::make_shared<remote::engine>(std::move(settings), std::make_unique<process::process_transport>(options));
    // The destructor stops what runs: a process, unlike a thread, can be stopped.
    pool->set_shutdown_at_destruction_cancels(true);
    return pool;
}

}  // namespace

process_pool::process_pool() : process_pool(process_pool_options{}) {}
process_pool::process_pool(std::size_t workers)
    : process_pool(with_workers<process_pool_options>(workers, "process_pool")) {}
process_pool::process_pool(process_pool_options options) : remote_executor_base(start_process_pool(options)) {}

process_pool& process_pool::operator=(process_pool&& other) noexcept {
    take_ownership(std::move(other));
    return *this;
}

process_pool::~process_pool() { end_ownership(); }

std::vector<int> process_pool::worker_pids() const {
    auto& pool = static_cast<remote::engine&>(*sink());
    return static_cast<process::process_transport&>(pool.link()).worker_pids();
}

}  // namespace fronta
