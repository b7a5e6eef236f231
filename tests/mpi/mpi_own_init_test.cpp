// A program that starts and ends MPI itself around fronta: MPI_Init_thread before fronta::init,
// MPI_Finalize at the end of main. Run under mpirun -n 3; the job must end cleanly (worker ranks
// are let go when rank 0 finalizes) and print the right answer.
#include <mpi.h>

#include <cstdio>

#include "fronta/init.hpp"
#include "fronta/mpi_pool.hpp"

double twice(double x) { return 2 * x; }
FRONTA_REMOTE(twice);

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    fronta::init(argc, argv);  // worker ranks serve in here
    int answer = 0;
    {
        fronta::mpi_pool pool;
        answer = static_cast<int>(pool.submit(twice, 21.0).get());
        std::printf("program-owned MPI: twice(21) = %d on %zu workers\n", answer, pool.size());
    }
    MPI_Finalize();
    return answer == 42 ? 0 : 1;
}
