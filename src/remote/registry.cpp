// The registry of remotable functions and exception types, and the worker's side of a call.
#include "fronta/remote/registry.hpp"

#include "fronta/detail/trace_hooks.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>
#include <typeinfo>

namespace fronta::remote {

std::string type_name(const std::type_info& type) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    std::string name = (status == 0 && demangled) ? demangled : type.name();
    std::free(demangled);
    return name;
}

std::string demangle_symbol(const char* symbol) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(symbol, nullptr, nullptr, &status);
    std::string name = (status == 0 && demangled) ? demangled : symbol;
    std::free(demangled);
    // Cut the parameter list: the balanced parentheses at the end (not the first '(', which may
    // open "(anonymous namespace)").
    if (name.empty() || name.back() != ')') return name;
    int depth = 0;
    for (std::size_t i = name.size(); i-- > 0;) {
        if (name[i] == ')') ++depth;
        if (name[i] == '(' && --depth == 0) return name.substr(0, i);
    }
    return name;
}

namespace {

// The function symbol at `offset` (an address minus the load bias) in the symbol tables of the ELF
// file `path`. Executables export no symbols unless linked with -rdynamic, so dladdr alone rarely
// names a function of the program itself; its .symtab does unless the file is stripped.
std::string symbol_in_file(const char* path, ElfW(Addr) offset) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    struct stat st {};
    void* map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(ElfW(Ehdr))))
        map = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return "";
    const auto size = static_cast<std::size_t>(st.st_size);
    const auto* bytes = static_cast<const unsigned char*>(map);
    const auto inside = [&](std::size_t at, std::size_t length) { return at <= size && length <= size - at; };
    std::string found;
    ElfW(Ehdr) header;
    std::memcpy(&header, bytes, sizeof header);
    const bool elf = std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 && header.e_shentsize == sizeof(ElfW(Shdr)) &&
                     inside(header.e_shoff, std::size_t{header.e_shnum} * sizeof(ElfW(Shdr)));
    for (std::size_t i = 0; elf && found.empty() && i < header.e_shnum; ++i) {
        ElfW(Shdr) table;
        std::memcpy(&table, bytes + header.e_shoff + i * sizeof table, sizeof table);
        if ((table.sh_type != SHT_SYMTAB && table.sh_type != SHT_DYNSYM) || table.sh_link >= header.e_shnum ||
            table.sh_entsize != sizeof(ElfW(Sym)) || !inside(table.sh_offset, table.sh_size))
            continue;
        ElfW(Shdr) names;
        std::memcpy(&names, bytes + header.e_shoff + table.sh_link * sizeof names, sizeof names);
        if (!inside(names.sh_offset, names.sh_size)) continue;
        for (std::size_t at = 0; at + sizeof(ElfW(Sym)) <= table.sh_size; at += sizeof(ElfW(Sym))) {
            ElfW(Sym) symbol;
            std::memcpy(&symbol, bytes + table.sh_offset + at, sizeof symbol);
            if (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_value != offset ||
                symbol.st_name >= names.sh_size)
                continue;
            const char* name = reinterpret_cast<const char*>(bytes + names.sh_offset + symbol.st_name);
            if (std::memchr(name, '\0', names.sh_size - symbol.st_name) == nullptr) continue;
            found = demangle_symbol(name);
            break;
        }
    }
    munmap(map, size);
    return found;
}

}  // namespace

std::string function_name(const void* address) {
    Dl_info info{};
    link_map* loaded = nullptr;
    if (dladdr1(address, &info, reinterpret_cast<void**>(&loaded), RTLD_DL_LINKMAP) == 0 || loaded == nullptr)
        return "";
    if (info.dli_sname != nullptr && info.dli_saddr == address) return demangle_symbol(info.dli_sname);
    // The program itself has an empty name in the link map.
    const char* path = (loaded->l_name == nullptr || loaded->l_name[0] == '\0') ? "/proc/self/exe" : loaded->l_name;
    return symbol_in_file(path, reinterpret_cast<ElfW(Addr)>(address) - loaded->l_addr);
}

std::string remotable_name(std::string name) {
    static constexpr std::string_view anonymous = "(anonymous namespace)::";
    for (auto at = name.find(anonymous); at != std::string::npos; at = name.find(anonymous, at))
        name.erase(at, anonymous.size());
    return name;
}

namespace {
template <class E>
constexpr auto make_from = &detail::make_exception_from_message<E>;
std::exception_ptr make_bad_alloc(const std::string&) { return std::make_exception_ptr(std::bad_alloc()); }
}  // namespace

registry::registry() {
    // Standard exceptions come back as themselves; fronta's own too.
    add_exception("std::logic_error", typeid(std::logic_error), make_from<std::logic_error>);
    add_exception("std::invalid_argument", typeid(std::invalid_argument), make_from<std::invalid_argument>);
    add_exception("std::domain_error", typeid(std::domain_error), make_from<std::domain_error>);
    add_exception("std::length_error", typeid(std::length_error), make_from<std::length_error>);
    add_exception("std::out_of_range", typeid(std::out_of_range), make_from<std::out_of_range>);
    add_exception("std::runtime_error", typeid(std::runtime_error), make_from<std::runtime_error>);
    add_exception("std::range_error", typeid(std::range_error), make_from<std::range_error>);
    add_exception("std::overflow_error", typeid(std::overflow_error), make_from<std::overflow_error>);
    add_exception("std::underflow_error", typeid(std::underflow_error), make_from<std::underflow_error>);
    add_exception("std::bad_alloc", typeid(std::bad_alloc), &make_bad_alloc);
    add_exception("fronta::cancelled_error", typeid(cancelled_error), make_from<cancelled_error>);
    add_exception("fronta::timeout_error", typeid(timeout_error), make_from<timeout_error>);
    add_exception("fronta::invalid_state_error", typeid(invalid_state_error), make_from<invalid_state_error>);
    add_exception("fronta::broken_executor", typeid(broken_executor), make_from<broken_executor>);
    add_exception("fronta::shutdown_error", typeid(shutdown_error), make_from<shutdown_error>);
    add_exception("fronta::worker_died", typeid(worker_died), make_from<worker_died>);
    add_exception("fronta::remote::deserialization_error", typeid(deserialization_error),
                  make_from<deserialization_error>);
}

registry& registry::instance() {
    static registry the_registry;
    return the_registry;
}

bool registry::add(entry e, std::uintptr_t address) {
    std::unique_lock lock(mutex_);
    auto found = by_name_.find(e.name);
    if (found != by_name_.end()) {
        // A header with FRONTA_REMOTE included in several files registers the same function again.
        const bool same = found->second.call == e.call;
        if (!same) conflicts_.push_back(e.name);
        return same;
    }
    if (address != 0) {
        by_address_.emplace(address, e.name);
        address_by_name_.emplace(e.name, address);
    }
    by_name_.emplace(e.name, std::move(e));
    return true;
}

const entry* registry::find(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto found = by_name_.find(std::string(name));
    return found == by_name_.end() ? nullptr : &found->second;
}

const entry* registry::find_function(std::uintptr_t address) const {
    std::shared_lock lock(mutex_);
    auto found = by_address_.find(address);
    if (found == by_address_.end()) return nullptr;
    return &by_name_.at(found->second);
}

std::uintptr_t registry::find_address(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto found = address_by_name_.find(std::string(name));
    return found == address_by_name_.end() ? 0 : found->second;
}

void throw_unregistered(const void* address, const std::type_info& type) {
    const std::string type_text = type_name(type);
    const std::string symbol = function_name(address);
    if (symbol.empty())
        throw std::invalid_argument("a function of type " + type_text +
                                    " is not registered for remote execution: add "
                                    "FRONTA_REMOTE(its_name) next to its definition");
    throw std::invalid_argument("function `" + symbol + "` (" + type_text +
                                ") is not registered for remote execution: add FRONTA_REMOTE(" +
                                remotable_name(symbol) + ") next to its definition");
}

void registry::check() const {
    std::shared_lock lock(mutex_);
    if (conflicts_.empty()) return;
    std::string names;
    for (const auto& n : conflicts_) names += (names.empty() ? "" : ", ") + n;
    throw std::logic_error("fronta: these names are registered for remote execution by different functions: " + names +
                           "; give each a unique name with FRONTA_REMOTE_AS");
}

void registry::add_exception(std::string name, std::type_index type, std::exception_ptr (*make)(const std::string&)) {
    std::unique_lock lock(mutex_);
    exceptions_by_name_[name] = make;
    exceptions_by_type_.insert_or_assign(type, exception_codec{std::move(name), make});
}

exception_description registry::describe(std::exception_ptr error) const {
    exception_description d;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::shared_lock lock(mutex_);
        auto found = exceptions_by_type_.find(typeid(e));
        d.message = e.what();
        if (found != exceptions_by_type_.end()) {
            d.type_name = found->second.name;
            d.known = true;
        } else {
            d.type_name = type_name(typeid(e));
        }
    } catch (...) {
        d.type_name = "(an exception not derived from std::exception)";
        d.message = "unknown";
    }
    return d;
}

std::exception_ptr registry::rebuild(const exception_description& d) const {
    if (d.known) {
        std::shared_lock lock(mutex_);
        auto found = exceptions_by_name_.find(d.type_name);
        if (found != exceptions_by_name_.end()) return found->second(d.message);
    }
    return std::make_exception_ptr(remote_error(d.type_name, d.message));
}

namespace {

// The binary form of `request` as cereal writes it (to_bytes): function, state and arguments as a
// 64-bit length and the bytes, then `chunk` as one byte. Read here without copying the arguments,
// which may be a large message in shared memory.
struct request_view {
    std::string_view function;
    std::string_view state;
    std::string_view arguments;
    bool chunk = false;
};

std::string_view take_string(std::string_view& in) {
    std::uint64_t length;
    if (in.size() < sizeof length) throw deserialization_error("cannot read the request: it is truncated");
    std::memcpy(&length, in.data(), sizeof length);
    in.remove_prefix(sizeof length);
    if (length > in.size())
        throw deserialization_error("cannot read the request: a length of " + std::to_string(length) + " bytes with " +
                                    std::to_string(in.size()) + " left");
    const std::string_view out = in.substr(0, static_cast<std::size_t>(length));
    in.remove_prefix(static_cast<std::size_t>(length));
    return out;
}

request_view parse_request(std::string_view in) {
    request_view r;
    r.function = take_string(in);
    r.state = take_string(in);
    r.arguments = take_string(in);
    if (in.size() != 1 || static_cast<unsigned char>(in.front()) > 1)
        throw deserialization_error("cannot read the request: " + std::to_string(in.size()) +
                                    " bytes where one flag should end it");
    r.chunk = in.front() == 1;
    return r;
}

void put_string(std::string& out, std::string_view s) {
    const std::uint64_t length = s.size();
    out.append(reinterpret_cast<const char*>(&length), sizeof length);
    out.append(s);
}

}  // namespace

std::pair<std::uint64_t, std::uint64_t> frame_shared_request(request& r) {
    std::string prefix;
    prefix.reserve(3 * sizeof(std::uint64_t) + r.function.size() + r.state.size());
    put_string(prefix, r.function);
    put_string(prefix, r.state);
    const std::uint64_t length = r.shared_arguments.size();
    prefix.append(reinterpret_cast<const char*>(&length), sizeof length);
    const char chunk = r.chunk ? 1 : 0;
    return r.shared_arguments.frame(prefix, std::string_view(&chunk, 1));
}

void execute(std::string_view request_bytes, attachments& exchange, output_bytes& reply) {
    execute(request_bytes, &exchange, reply);
}

void execute(std::string_view request_bytes, attachments* exchange, output_bytes& reply) {
    attachment_scope scope(exchange);
    reply.clear();
    const std::uint64_t times[2] = {fronta::detail::trace_clock(), 0};
    struct stamp {  // when the call ended, into the header, whichever way it ended
        output_bytes& reply;
        const std::uint64_t* times;
        ~stamp() {
            const std::uint64_t both[2] = {times[0], fronta::detail::trace_clock()};
            if (reply.size() >= reply_header_size) reply.overwrite(reply_times_offset, both, sizeof both);
        }
    } stamp_times{reply, times};
    try {
        reply.append(reply_header(reply_result).data(), reply_header_size);
        const request_view req = parse_request(request_bytes);
        const entry* e = registry::instance().find(req.function);
        if (e == nullptr)
            throw std::invalid_argument("the worker has no remote function '" + std::string(req.function) +
                                        "' (client and worker run different code?)");
        (req.chunk ? e->call_chunk : e->call)(req.state, req.arguments, reply);
    } catch (...) {
        failure_reply(std::current_exception(), reply);
    }
}

void failure_reply(std::exception_ptr error, output_bytes& reply) {
    const auto description = registry::instance().describe(std::move(error));
    reply.clear();
    reply.append(reply_header(reply_exception).data(), reply_header_size);
    append_bytes(reply, description);
}

std::string execute(std::string_view request_bytes, attachments* exchange) {
    output_bytes reply;
    execute(request_bytes, exchange, reply);
    return reply.take_string();
}

std::string execute(std::string_view request_bytes, attachments& exchange) { return execute(request_bytes, &exchange); }

std::string_view result_or_throw(std::string_view reply) {
    if (reply.empty()) throw deserialization_error("empty reply from the worker");
    if (reply.size() < reply_header_size) throw deserialization_error("malformed reply from the worker");
    if (reply.front() == reply_result) return reply.substr(reply_header_size);
    if (reply.front() != reply_exception) throw deserialization_error("malformed reply from the worker");
    const auto description = from_bytes<exception_description>(reply.substr(reply_header_size));
    std::rethrow_exception(registry::instance().rebuild(description));
}

}  // namespace fronta::remote
