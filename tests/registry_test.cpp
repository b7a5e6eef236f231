// The registry and the worker's side of a call, without any process: request in, reply out.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

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
