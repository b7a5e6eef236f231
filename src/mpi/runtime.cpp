#include "mpi/runtime.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fronta/init.hpp"
#include "fronta/remote/attachments.hpp"
#include "fronta/remote/registry.hpp"
#include "mpi/transport.hpp"
#include "remote/handshake.hpp"

namespace fronta::mpi {
namespace {

bool we_started = false;
std::mutex start_mutex;  // pools created from several threads at once start MPI once
std::atomic<int> thread_level{MPI_THREAD_SINGLE};
MPI_Comm world = MPI_COMM_NULL;
std::atomic<bool> world_claimed{false};
std::atomic<int> live_pools{0};
std::mutex call_mutex;

bool under_launcher() {
    // Open MPI's mpirun, MPICH's hydra (and Slurm's PMI-2), and PMIx launchers (srun --mpi=pmix).
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(name) != nullptr) return true;
    return false;
}

// Rank 0's program is ending: the world's workers leave (once).
void release_world_workers() {
    static bool done = false;
    if (done || world == MPI_COMM_NULL || world_rank() != 0) return;
    done = true;
    for (int rank = 1; rank < world_size(); ++rank) {
        try {
            send_control(world, rank, exit_tag, "");
        } catch (const mpi_error& e) {
            std::fprintf(stderr, "fronta: could not tell MPI rank %d to exit: %s\n", rank, e.what());
        }
    }
}

// MPI_Finalize frees MPI_COMM_SELF first and runs its attributes' delete callbacks: the standard
// hook for "MPI is ending". A program that started MPI itself and calls MPI_Finalize lets the
// workers go here, before the finalize waits for them.
int on_finalize(MPI_Comm, int, void*, void*) {
    release_world_workers();
    return MPI_SUCCESS;
}

void finalize_at_exit() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    release_world_workers();
    if (!we_started) return;
    if (live_pools.load() != 0) {
        std::fprintf(stderr, "fronta: an mpi_pool is still alive at exit; MPI is left running\n");
        return;
    }
    if (world != MPI_COMM_NULL) MPI_Comm_free(&world);
    MPI_Finalize();
}

// A spawned worker lingers this long after MPI_Finalize. With Open MPI 4.1 and PMIx 4.2, when the
// PMIx server hears that a client process ended (its launcher reaped it) before it has handled
// that client's closed connection, it closes the socket but leaves its event registered
// (PMIx_server_deregister_client in src/server/pmix_server.c); the next client whose connection
// gets the same descriptor number is then never served, and the next MPI_Comm_spawn hangs for
// ever. MPI_Finalize closes the worker's PMIx connection: lingering lets the server see that
// first. (400 workers stopped one pool after another: no hang with 100 ms; without it, a hang
// within 4 to 120.)
constexpr useconds_t linger_after_finalize_us = 100'000;

[[noreturn]] void leave(int code, bool spawned = false) {
    if (world != MPI_COMM_NULL) MPI_Comm_free(&world);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();  // a worker never returns to main: it ends MPI, whoever started it
    if (spawned) usleep(linger_after_finalize_us);
    we_started = false;  // the atexit handler has nothing left to do
    std::exit(code);
}

// Runs inside fronta::init: worker ranks serve here and never return.
void init_hook(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], spawned_worker_flag) == 0) {
        unsetenv("FRONTA_TRACE");  // the client traces (see process/init.cpp)
        try {
            ensure_started();
        } catch (const mpi_error& e) {
            std::fprintf(stderr, "fronta mpi worker: %s\n", e.what());
            std::exit(2);
        }
        MPI_Comm parent = MPI_COMM_NULL;
        MPI_Comm_get_parent(&parent);
        if (parent == MPI_COMM_NULL) {
            std::fprintf(stderr, "fronta mpi worker: started with %s but not by MPI_Comm_spawn\n", spawned_worker_flag);
            leave(2);
        }
        const int code = serve(parent, 0, true);
        MPI_Comm_disconnect(&parent);
        leave(code, true);
    }
    if (!under_launcher()) return;  // started alone: MPI starts when a pool needs it
    try {
        ensure_started();
        int size = 0;
        check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
        if (size <= 1) return;
        check(MPI_Comm_dup(MPI_COMM_WORLD, &world), "MPI_Comm_dup");
        check(MPI_Comm_set_errhandler(world, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
        if (world_rank() == 0) {
            // The workers leave when MPI ends (whoever finalizes it) or at exit, whichever comes first.
            int key = MPI_KEYVAL_INVALID;
            check(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, &on_finalize, &key, nullptr), "MPI_Comm_create_keyval");
            check(MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr), "MPI_Comm_set_attr");
            if (!we_started) std::atexit(&finalize_at_exit);
        }
    } catch (const mpi_error& e) {
        std::fprintf(stderr, "fronta: MPI launch: %s\n", e.what());
        std::exit(2);
    }
    if (world_rank() != 0) {
        unsetenv("FRONTA_TRACE");
        leave(serve(world, 0, false));
    }
}

const bool hook_added = [] {
    detail::add_init_hook(&init_hook);
    return true;
}();

}  // namespace

void ensure_started() {
    std::lock_guard lock(start_mutex);
    int initialized = 0;
    check(MPI_Initialized(&initialized), "MPI_Initialized");
    int level = MPI_THREAD_SINGLE;
    if (initialized) {
        MPI_Query_thread(&level);
    } else {
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &level), "MPI_Init_thread");
        we_started = true;
        std::atexit(&finalize_at_exit);
    }
    thread_level.store(level);
    if (level < MPI_THREAD_SERIALIZED)
        throw mpi_error("this MPI library gives thread level " + std::to_string(level) +
                        "; fronta's dispatcher thread needs at least MPI_THREAD_SERIALIZED");
}

bool launched_with_world() { return world != MPI_COMM_NULL; }

// A property of MPI_COMM_WORLD (rank, size), or `before_mpi` while MPI has not started.
static int world_property(int (*query)(MPI_Comm, int*), int before_mpi) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) query(MPI_COMM_WORLD, &before_mpi);
    return before_mpi;
}

int world_rank() { return world_property(&MPI_Comm_rank, 0); }
int world_size() { return world_property(&MPI_Comm_size, 1); }

MPI_Comm world_comm() { return world; }

bool claim_world() noexcept {
    bool expected = false;
    return world_claimed.compare_exchange_strong(expected, true);
}
void release_world() noexcept { world_claimed.store(false); }

void pool_started() noexcept { live_pools.fetch_add(1); }
void pool_ended() noexcept { live_pools.fetch_sub(1); }

std::unique_lock<std::mutex> serialize_calls() {
    if (thread_level.load() >= MPI_THREAD_MULTIPLE) return {};
    return std::unique_lock<std::mutex>(call_mutex);
}

int serve(MPI_Comm comm, int client, bool spawned) {
    (void)hook_added;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    prctl(PR_SET_TIMERSLACK, 1000UL);  // its idle sleeps of tens of µs should not grow by 50 µs
    char host[MPI_MAX_PROCESSOR_NAME] = {};
    int host_length = 0;
    MPI_Get_processor_name(host, &host_length);
    sender out(max_piece_limit);
    backoff idle;
    try {
        for (;;) {
            const bool sending = !out.progress();
            std::optional<message> m = try_receive(comm, client, MPI_ANY_TAG);
            if (!m) {
                if (sending)
                    sched_yield();  // a large reply moves only while this side calls into MPI
                else
                    idle.pause();
                continue;
            }
            idle.reset();
            switch (m->tag) {
                case hello_tag: {
                    const auto refusal = remote::refusal_of(m->payload.view());
                    const std::string answer = refusal
                                                   ? *refusal
                                                   : "ok\n" + std::string(host, static_cast<std::size_t>(host_length)) +
                                                         "\n" + std::to_string(getpid());
                    out.post(comm, client, hello_tag, 0, answer);
                    break;
                }
                case task_tag: {
                    // Ranks share no descriptors: everything comes and goes by value.
                    std::string reply = remote::execute(m->payload.view(), nullptr);
                    m->payload = buffer();
                    out.post(comm, client, reply_tag, m->id, std::move(reply));
                    break;
                }
                case initialize_tag: {
                    std::string reply = remote::execute(m->payload.view(), nullptr);
                    out.post(comm, client, initialize_tag, 0, std::move(reply));
                    break;
                }
                case stop_tag:
                    if (spawned) {
                        out.finish();
                        return 0;
                    }
                    break;  // a world rank waits for the next pool
                case exit_tag: out.finish(); return 0;
                default: std::fprintf(stderr, "fronta mpi worker: unexpected message tag %d; ignored\n", m->tag);
            }
        }
    } catch (const mpi_error& e) {
        std::fprintf(stderr, "fronta mpi worker %d: %s; exiting\n", static_cast<int>(getpid()), e.what());
        return 4;
    }
}

}  // namespace fronta::mpi
