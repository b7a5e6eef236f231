// The registry and the worker's side of a call, without any process: request in, reply out.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fronta/remote/call.hpp"
#include "fronta/remote/registry.hpp"

namespace {
int add(int a, int b) { return a + b; }
FRONTA_REMOTE(add);
void nothing(int) {}
FRONTA_REMOTE(nothing);
struct odd_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
int fail(int) { throw odd_error("odd"); }
FRONTA_REMOTE(fail);
int unexported(int x) { return x; }  // internal linkage: only the executable's .symtab knows it
double sum_values(std::vector<double> values) { return std::accumulate(values.begin(), values.end(), 0.0); }
FRONTA_REMOTE(sum_values);
}  // namespace

using fronta::remote::request;
using fronta::remote::to_bytes;

namespace {
std::string execute(const std::string& bytes) {
    fronta::remote::attachments none;
    return fronta::remote::execute(bytes, none);
}
fronta::remote::request make_request(std::string function, std::string arguments) {
    fronta::remote::request r;
    r.function = std::move(function);
    r.arguments = std::move(arguments);
    return r;
}
}  // namespace

TEST(registry, executes_a_registered_function) {
    const std::string reply = execute(to_bytes(make_request("add", to_bytes(std::tuple<int, int>{2, 3}))));
    EXPECT_EQ(fronta::remote::from_bytes<int>(fronta::remote::result_or_throw(reply)), 5);
}

TEST(registry, void_function_replies_empty) {
    const std::string reply = execute(to_bytes(make_request("nothing", to_bytes(std::tuple<int>{1}))));
    EXPECT_TRUE(fronta::remote::result_or_throw(reply).empty());
}

TEST(registry, unknown_name_becomes_an_exception_reply) {
    const std::string reply = execute(to_bytes(make_request("no_such_function", "")));
    EXPECT_THROW(fronta::remote::result_or_throw(reply), std::invalid_argument);
}

TEST(registry, unreadable_arguments_become_an_exception_reply) {
    const std::string reply = execute(to_bytes(make_request("add", "xx")));
    EXPECT_THROW(fronta::remote::result_or_throw(reply), fronta::remote::deserialization_error);
    EXPECT_THROW(fronta::remote::result_or_throw(execute("garbage")), fronta::remote::deserialization_error);
}

TEST(registry, unregistered_exception_type_becomes_remote_error) {
    const std::string reply = execute(to_bytes(make_request("fail", to_bytes(std::tuple<int>{1}))));
    try {
        fronta::remote::result_or_throw(reply);
        FAIL();
    } catch (const fronta::remote_error& e) {
        EXPECT_NE(e.type_name().find("odd_error"), std::string::npos);
        EXPECT_EQ(e.message(), "odd");
    }
}

TEST(registry, finds_functions_by_address_for_submit) {
    using shipping = fronta::remote::shipping<int (*)(int, int), int, int>;
    EXPECT_EQ(shipping::identify(&add).first, "add");
    static_assert(shipping::value);
    static_assert(!fronta::remote::shipping<decltype([x = 1](int) { return x; }), int>::callable_ok);
    static_assert(fronta::remote::shipping<decltype([](int) { return 1; }), int>::value);
}

TEST(registry_names, unregistered_function_is_named_from_the_programs_symbol_table) {
    EXPECT_EQ(fronta::remote::function_name(reinterpret_cast<const void*>(&unexported)),
              "(anonymous namespace)::unexported");
    EXPECT_EQ(fronta::remote::remotable_name("(anonymous namespace)::unexported"), "unexported");
    EXPECT_EQ(fronta::remote::demangle_symbol("_ZN12_GLOBAL__N_110unexportedEi"), "(anonymous namespace)::unexported")
        << "the parameter list is cut, not the anonymous namespace";
    EXPECT_EQ(fronta::remote::demangle_symbol("_ZN2ns4stepEd"), "ns::step");
}

// A request whose arguments went straight into shared memory is laid out in place into the same
// bytes that to_bytes(request) gives, whatever the size of the callable's state.
TEST(registry, a_request_framed_in_shared_memory_is_the_usual_bytes) {
    const std::vector<double> values(300'000, 2.5);  // past the 1 MiB spill threshold
    for (const std::size_t state_size : {std::size_t{0}, std::size_t{100}, std::size_t{10'000}}) {
        for (const bool chunk : {false, true}) {
            request shared;
            shared.function = "sum_values";
            shared.state = std::string(state_size, 's');
            shared.chunk = chunk;
            shared.set_arguments(true, values);
            ASSERT_FALSE(shared.shared_arguments.empty()) << "large arguments spill to shared memory";
            request plain = make_request("sum_values", to_bytes(values));
            plain.state = shared.state;
            plain.chunk = chunk;
            const auto [offset, length] = fronta::remote::frame_shared_request(shared);
            const std::string expected = to_bytes(plain);
            ASSERT_EQ(length, expected.size());
            const std::size_t prefix = length - shared.shared_arguments.size() - 1;  // the flag ends it
            ASSERT_GE(offset, 64u);
            EXPECT_TRUE(std::string_view(shared.shared_arguments.data() - prefix, length) == expected)
                << "state of " << state_size << " bytes, chunk " << chunk;
            fronta::remote::attachments none;
            if (!chunk) {
                const std::string reply = fronta::remote::execute(expected, none);
                EXPECT_EQ(fronta::remote::from_bytes<double>(fronta::remote::result_or_throw(reply)), 750'000.0);
            }
        }
    }
}

// Large vectors of numbers are copied straight out of the bytes when aligned there, and read the
// usual way when not: both give back exactly what was written, and a short message is an error.
TEST(registry, large_vectors_of_numbers_read_back_exactly) {
    std::vector<double> doubles(400'000);
    for (std::size_t i = 0; i < doubles.size(); ++i) doubles[i] = 0.5 * double(i);
    std::vector<std::uint8_t> bytes(3'000'001);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 13);
    EXPECT_EQ(fronta::remote::from_bytes<std::vector<double>>(to_bytes(doubles)), doubles) << "aligned";
    const auto unaligned = std::make_tuple(char{7}, doubles, bytes);
    EXPECT_EQ((fronta::remote::from_bytes<std::tuple<char, std::vector<double>, std::vector<std::uint8_t>>>(
                  to_bytes(unaligned))),
              unaligned)
        << "after one byte";
    std::vector<double> reused(10, 1.0);  // a vector that already holds something is replaced
    fronta::remote::read_bytes(to_bytes(doubles), reused);
    EXPECT_EQ(reused, doubles);
    std::string cut = to_bytes(doubles);
    cut.resize(cut.size() - 1);
    EXPECT_THROW(fronta::remote::from_bytes<std::vector<double>>(cut), fronta::remote::deserialization_error);
}
