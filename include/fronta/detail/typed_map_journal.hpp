#pragma once
// A map's journal over cereal: chunk inputs are hashed as their serialized bytes, stored values are
// written as them. The function is known by its registered or symbol name (a function pointer) or
// its type name and serialized state (a function object). See map_journal.hpp for the file.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "fronta/detail/map_journal.hpp"
#include "fronta/remote/registry.hpp"
#include "fronta/remote/serialization.hpp"

namespace fronta::detail {

// Feeds what cereal writes into a hash instead of memory.
class hashing_sink : public std::streambuf {
public:
    std::uint64_t finish() const noexcept { return hash_.finish(); }

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        hash_.update(s, static_cast<std::size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) {
            const char byte = static_cast<char>(c);
            hash_.update(&byte, 1);
        }
        return c;
    }

private:
    stream_hash hash_;
};

// cereal's traits call any std::vector serializable, whatever its elements; look inside.
template <class T>
inline constexpr bool journal_serializable_v = remote::is_serializable_v<T>;
template <class T, class A>
inline constexpr bool journal_serializable_v<std::vector<T, A>> = journal_serializable_v<T>;

/// The hash of `value`'s serialized bytes, computed without holding them.
template <class T>
std::uint64_t hash_serialized(const T& value) {
    hashing_sink sink;
    std::ostream stream(&sink);
    {
        cereal::BinaryOutputArchive archive(stream);
        archive(value);
    }
    return sink.finish();
}

/// How a journal tells functions apart from one run of the program to the next: `{description,
/// hash of the state}`. Code addresses change between runs, names do not.
template <class Fn>
std::pair<std::string, std::uint64_t> function_fingerprint(const Fn& fn) {
    const std::string type = remote::type_name(typeid(Fn));
    if constexpr (std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>) {
        if (const auto* e = remote::registry::instance().find_function(reinterpret_cast<std::uintptr_t>(fn)))
            return {e->name + " (registered, " + type + ")", 0};
        std::string symbol = remote::function_name(reinterpret_cast<const void*>(fn));
        if (symbol.empty())
            throw std::invalid_argument(
                "map_options::journal: cannot name this function of type " + type +
                " (the binary has no symbols for it), so a journal could not tell it from another: register it with "
                "FRONTA_REMOTE(its_name)");
        return {symbol + " (" + type + ")", 0};
    } else if constexpr (std::is_empty_v<Fn>) {
        return {type, 0};
    } else if constexpr (remote::is_serializable_v<Fn>) {
        return {type, hash_serialized(fn)};
    } else {
        return {type, 0};  // captured values that cereal cannot write (a capturing lambda): the type alone
    }
}

template <class Input, class Stored>
class typed_map_journal final : public chunk_journal<Input, Stored> {
public:
    using lookup = typename chunk_journal<Input, Stored>::lookup;

    typed_map_journal(const std::filesystem::path& path, const journal_identity& identity)
        : file_(journal_file::open(path, identity)) {}

    lookup find(std::uint64_t index, const std::vector<Input>& items) override {
        lookup out;
        out.input_hash = hash_serialized(items);
        auto bytes = file_->find(index, out.input_hash);
        if (!bytes) return out;
        try {
            out.stored = remote::from_bytes<Stored>(*bytes);
        } catch (const remote::deserialization_error& e) {
            throw std::invalid_argument("fronta: the map journal " + file_->path().string() + ": chunk " +
                                        std::to_string(index) + " cannot be read back as " +
                                        remote::type_name(typeid(Stored)) + " (" + e.what() + ")");
        }
        return out;
    }

    void record(std::uint64_t index, std::uint64_t input_hash, const Stored& value) override {
        file_->append(index, input_hash, remote::to_bytes(value));
    }

    const std::filesystem::path& path() const noexcept override { return file_->path(); }

    journal_file& file() noexcept { return *file_; }

private:
    std::shared_ptr<journal_file> file_;  // shared with other maps of this process on the same journal
};

/// The journal of a map over `Input`s storing a `Stored` per chunk, made by `kind` with the
/// callables `fns` (the mapped function; for map_reduce also the reduction). Types that cereal
/// cannot serialize are refused with std::invalid_argument.
template <class Input, class Stored, class... Fns>
std::shared_ptr<chunk_journal<Input, Stored>> open_map_journal(const std::filesystem::path& path, journal_kind kind,
                                                               std::size_t chunk_size, const Fns&... fns) {
    const std::string caller = std::string(journal_kind_name(kind)) + "(): map_options::journal: ";
    if constexpr (!journal_serializable_v<Input>) {
        throw std::invalid_argument(caller + "the inputs (" + remote::type_name(typeid(Input)) +
                                    ") must be serializable with cereal to be journaled; give the type a "
                                    "serialize(Archive&) member, or map without a journal");
    } else if constexpr (!journal_serializable_v<Stored>) {
        throw std::invalid_argument(caller + "the results (" + remote::type_name(typeid(Stored)) +
                                    ") must be serializable with cereal to be journaled; give the type a "
                                    "serialize(Archive&) member, or map without a journal");
    } else {
        journal_identity identity;
        identity.kind = kind;
        std::string states;
        const auto add = [&](const auto& fn) {
            auto [name, state] = function_fingerprint(fn);
            identity.function += (identity.function.empty() ? "" : ", ") + name;
            states += std::to_string(state) + ' ';
        };
        (add(fns), ...);
        if (states.find_first_not_of("0 ") != std::string::npos) identity.function_state = hash_bytes(states);
        identity.result_type = remote::type_name(typeid(Stored));
        identity.chunk_size = chunk_size;
        return std::make_shared<typed_map_journal<Input, Stored>>(path, identity);
    }
}

}  // namespace fronta::detail
