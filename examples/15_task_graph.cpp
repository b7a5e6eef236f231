// 15: a task graph built from futures passed as arguments. The talk's "large scale frameworks like
// Dask or Ray" let a task take other tasks' futures: it runs once they are done, with their
// values, and the client never waits in between. Dask:
//     left = client.submit(edit_block, i, j, above[j], left)
// fronta, the same on threads, worker processes or MPI ranks:
//     left = pool.submit(edit_block, i, j, above[j], left);
// (Python's concurrent.futures would hand the task the Future itself; in fronta, std::ref(fut)
// does that.)
//   15_task_graph --executor threads
//   15_task_graph --executor processes
//   mpirun -n 3 15_task_graph --executor mpi      (rank 0 runs main, 2 ranks work)
//   15_task_graph --executor mpi                  (started alone: spawns its MPI workers)
// The job: the edit distance of two DNA-like sequences of 6,000 letters, by dynamic programming
// over a table of 6,001 x 6,001 cells cut into blocks of 500 x 500: block (i, j) needs the
// bottom row of block (i-1, j) and the right column of block (i, j-1). A wavefront: it starts at
// the top-left block and sweeps to the bottom-right one, the blocks of a diagonal running at once.
// The answer is checked against a plain serial loop.
#include <fronta/fronta.hpp>
#ifdef FRONTA_HAVE_MPI
#include <fronta/mpi_pool.hpp>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

constexpr int length = 6'000;           // letters in each sequence
constexpr int block = 500;              // rows and columns of the table per task
constexpr int blocks = length / block;  // blocks per side

// Two related sequences, the same in every process: a random one, and a copy of it with about one
// letter in eight replaced, dropped or followed by an extra one. D[r][c], the table, is the edit
// distance between the first r letters of the one and the first c letters of the other.
const std::array<std::string, 2>& sequences() {
    static const std::array<std::string, 2> pair = [] {
        std::uint64_t state = 0x9E3779B97F4A7C15ull;
        auto next = [&] {  // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            return (state * 0x2545F4914F6CDD1Dull) >> 33;
        };
        std::string a, b;
        while (a.size() < length) a += "ACGT"[next() % 4];
        for (char letter : a) {
            const auto change = next() % 24;
            if (change == 0) b += "ACGT"[next() % 4];            // replaced
            if (change == 2) b += {letter, "ACGT"[next() % 4]};  // one inserted after it
            if (change > 2) b += letter;                         // kept (1: dropped)
        }
        b.resize(length, 'A');
        return std::array{a, b};
    }();
    return pair;
}

// What a block passes on: its bottom row to the block below, its right column to the block on its
// right. The row starts one column to the left of the block: the corner the block below needs.
struct block_edges {
    std::vector<int> bottom;  // D[last row][first column - 1 .. last column]
    std::vector<int> right;   // D[first row .. last row][last column]
    template <class Archive>
    void serialize(Archive& archive) {
        archive(bottom, right);
    }
};

// The task: block (i, j) of the table, from the row above it and the column to its left.
block_edges edit_block(int i, int j, const block_edges& above, const block_edges& left) {
    const auto& [a, b] = sequences();
    std::vector<int> row = above.bottom, next(block + 1);
    block_edges out;
    for (int r = 0; r < block; ++r) {
        const char letter = a[i * block + r];
        next[0] = left.right[r];
        for (int c = 1; c <= block; ++c)  // delete, insert, or keep/replace
            next[c] = std::min({row[c] + 1, next[c - 1] + 1, row[c - 1] + (letter != b[j * block + c - 1])});
        out.right.push_back(next[block]);
        std::swap(row, next);
    }
    out.bottom = std::move(row);
    return out;
}
FRONTA_REMOTE(edit_block);

// The table's first row and first column: D[0][c] = c, D[r][0] = r.
block_edges top_edge(int j) {
    block_edges e{std::vector<int>(block + 1), {}};
    std::iota(e.bottom.begin(), e.bottom.end(), j * block);
    return e;
}
FRONTA_REMOTE(top_edge);
block_edges left_edge(int i) {
    block_edges e{{}, std::vector<int>(block)};
    std::iota(e.right.begin(), e.right.end(), i * block + 1);
    return e;
}
FRONTA_REMOTE(left_edge);

// The same table, one row at a time, in this thread.
int serial_edit_distance(const std::string& a, const std::string& b) {
    std::vector<int> row(b.size() + 1), next(b.size() + 1);
    std::iota(row.begin(), row.end(), 0);
    for (std::size_t r = 1; r <= a.size(); ++r) {
        next[0] = int(r);
        for (std::size_t c = 1; c <= b.size(); ++c)
            next[c] = std::min({row[c] + 1, next[c - 1] + 1, row[c - 1] + (a[r - 1] != b[c - 1])});
        std::swap(row, next);
    }
    return row.back();
}

fronta::executor make_executor(const std::string& kind) {
    if (kind == "threads") return fronta::thread_pool();
    if (kind == "processes") return fronta::process_pool();
#ifdef FRONTA_HAVE_MPI
    if (kind == "mpi") return fronta::mpi_pool();
#else
    if (kind == "mpi") throw std::invalid_argument("this build has no MPI (install libopenmpi-dev and rebuild)");
#endif
    throw std::invalid_argument("unknown executor '" + kind + "' (threads, processes or mpi)");
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process and MPI workers are copies of this program: they stay in here
    std::string kind = "threads";
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--executor") kind = argv[i + 1];
    try {
        using clock = std::chrono::steady_clock;
        fronta::executor pool = make_executor(kind);
        const auto start = clock::now();
        // The whole graph is submitted at once; each task is queued when its inputs are done. The
        // client keeps only the futures of the row of blocks above: a task holds its inputs until
        // it runs, and a result no one can read any more is freed.
        std::vector<fronta::future<block_edges>> above;
        for (int j = 0; j < blocks; ++j) above.push_back(pool.submit(top_edge, j));
        for (int i = 0; i < blocks; ++i) {
            fronta::future<block_edges> left = pool.submit(left_edge, i);
            for (int j = 0; j < blocks; ++j) {
                left = pool.submit(edit_block, i, j, above[j], left);  // called with their values
                above[j] = left;
            }
        }
        const int distance = above.back().get().bottom.back();  // the first and only wait
        const double seconds = std::chrono::duration<double>(clock::now() - start).count();

        const auto serial_start = clock::now();
        const int expected = serial_edit_distance(sequences()[0], sequences()[1]);
        const double serial_seconds = std::chrono::duration<double>(clock::now() - serial_start).count();
        std::printf("edit distance of two %d-letter sequences: %d\n", length, distance);
        std::printf("%d blocks of %dx%d on %zu %s in %.2f s; the serial loop: %.2f s\n", blocks * blocks, block, block,
                    pool.concurrency(), kind.c_str(), seconds, serial_seconds);
        if (distance != expected) {
            std::printf("wrong: the serial loop says %d\n", expected);
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "15_task_graph: %s\n", e.what());
        return 2;
    }
}
