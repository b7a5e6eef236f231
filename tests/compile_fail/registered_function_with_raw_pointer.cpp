// Must not compile: a function registered for remote execution cannot take a raw pointer.
#include <fronta/remote/registry.hpp>

int twice(const int* p) { return *p * 2; }
FRONTA_REMOTE(twice);

int main() {}
