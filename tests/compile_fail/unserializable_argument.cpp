// Must not compile: the argument type has no serialization.
#include <fronta/fronta.hpp>

struct opaque {
    int handle;
};
int use(opaque o) { return o.handle; }

int main() {
    fronta::process_pool pool(1);
    pool.submit([](opaque o) { return o.handle; }, opaque{1});
}
