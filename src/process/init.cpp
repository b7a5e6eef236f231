// fronta::init: in the program, remember that it ran; in a worker copy, run the worker loop. It is
// the program's entry, above every transport: it lives with the process transport, which is part of
// the core library, and MPI hooks in (add_init_hook).
#include "fronta/init.hpp"

#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fronta/remote/registry.hpp"
#include "process/process_worker.hpp"

namespace fronta {
namespace {

std::atomic<bool> init_done{false};

// Hooks are added by static initializers, before main: a fixed table needs no dynamic
// initialization of its own.
constexpr int max_init_hooks = 4;
detail::init_hook init_hooks[max_init_hooks] = {};
int init_hook_count = 0;

// The GNU build-id note of the main program, read from its loaded program headers.
int find_build_id(dl_phdr_info* info, size_t, void* out) {
    auto* id = static_cast<std::string*>(out);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
        const char* end = p + ph.p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const char* desc = name + ((note->n_namesz + 3) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
                static const char hex[] = "0123456789abcdef";
                for (unsigned j = 0; j < note->n_descsz; ++j) {
                    const auto byte = static_cast<unsigned char>(desc[j]);
                    id->push_back(hex[byte >> 4]);
                    id->push_back(hex[byte & 15]);
                }
                return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
        }
    }
    return 1;  // only the first object: the main program
}

std::string compute_build_id() {
    std::string id;
    dl_iterate_phdr(&find_build_id, &id);
    if (!id.empty()) return "gnu:" + id;
    struct stat st {};
    if (stat("/proc/self/exe", &st) == 0)
        return "stat:" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec);
    return "unknown";
}

}  // namespace

void init(int argc, char** argv) {
    // A copy of the program that a process_pool started serves it and exits. Any fronta program
    // checks the variable (and refuses loudly what is not from its own pool), whether or not it
    // uses process_pool itself.
    if (const char* worker = std::getenv(process::worker_environment_variable)) {
        const std::string settings = worker;
        unsetenv(process::worker_environment_variable);  // not for programs this worker may start
        unsetenv("FRONTA_TRACE");  // the client traces; a worker's own pools would write over its file
        std::exit(process::run_process_worker(settings));
    }
    remote::registry::instance().check();
    // Other transports (MPI) hook in here: a worker rank serves and exits.
    for (int i = 0; i < init_hook_count; ++i) init_hooks[i](argc, argv);
    init_done.store(true);
}

namespace detail {

bool initialized() noexcept { return init_done.load(); }

void add_init_hook(init_hook hook) noexcept {
    if (init_hook_count < max_init_hooks) init_hooks[init_hook_count++] = hook;
}

const char* build_id() noexcept {
    static const std::string id = [] {
        // Lets a test play "a worker from a different build".
        if (const char* forced = std::getenv("FRONTA_TEST_FORCE_BUILD_ID")) return std::string(forced);
        return compute_build_id();
    }();
    return id.c_str();
}

}  // namespace detail
}  // namespace fronta
