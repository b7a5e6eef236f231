// mpi_pool: the remote engine (src/remote/engine.hpp) driving worker ranks through the MPI
// transport (mpi_transport.hpp).
#include "fronta/mpi_pool.hpp"

#include "mpi/mpi_transport.hpp"
#include "mpi/runtime.hpp"
#include "remote/engine.hpp"

namespace fronta {
namespace {

std::shared_ptr<remote::engine> start_mpi_pool(const mpi_pool_options& options) {
    if (!detail::initialized())
        throw invalid_state_error(
            "mpi_pool: call fronta::init(argc, argv) at the top of main: worker ranks serve inside it");
    auto link = std::make_unique<mpi::mpi_transport>(options);
    remote::engine_options settings;
    settings.pool = "mpi_pool";
    settings.workers = options.workers != 0 ? options.workers : link->default_workers();
    settings.retries = options.retries;
    settings.task_timeout = options.task_timeout;
    settings.initializer = options.initializer;
    settings.handshake_limit = mpi::handshake_limit;
    settings.callback_thread_name = "fronta-mpi-cb";
    auto pool = std::make_shared<remote::engine>(std::move(settings), std::move(link));
    pool->set_passes_descriptors(false);  // ranks share no descriptors: everything travels by value
    return pool;
}

mpi::mpi_transport& transport_of(const std::shared_ptr<detail::task_sink>& sink) {
    return static_cast<mpi::mpi_transport&>(static_cast<remote::engine&>(*sink).link());
}

}  // namespace

mpi_pool::mpi_pool() : mpi_pool(mpi_pool_options{}) {}
mpi_pool::mpi_pool(std::size_t workers) : mpi_pool(with_workers<mpi_pool_options>(workers, "mpi_pool")) {}
mpi_pool::mpi_pool(mpi_pool_options options) : remote_executor_base(start_mpi_pool(options)) {}

mpi_pool& mpi_pool::operator=(mpi_pool&& other) noexcept {
    take_ownership(std::move(other));
    return *this;
}

mpi_pool::~mpi_pool() { end_ownership(); }

bool mpi_pool::spawned() const { return transport_of(sink()).spawned(); }
std::vector<std::string> mpi_pool::worker_hosts() const { return transport_of(sink()).hosts(); }

std::pair<int, int> mpi_pool::world() { return {mpi::world_rank(), mpi::world_size()}; }

}  // namespace fronta
