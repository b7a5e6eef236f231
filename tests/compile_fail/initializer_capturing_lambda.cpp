// Must not compile: a pool's initializer is checked like a submit (a lambda with captures cannot
// be shipped to a worker process).
#include <fronta/fronta.hpp>

int main() {
    const char* path = "model.bin";
    fronta::process_pool pool({.workers = 1, .initializer = fronta::remote_call([path](int) {}, 1)});
}
