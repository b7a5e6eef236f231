// process_pool and outsiders: a malformed worker variable, another program holding the socket, a
// hello without the pool's secret, a set-user-ID copy: none makes a fronta program serve.
#include "child_client.hpp"
#include "worker_channel.hpp"

namespace {

// ---- 7. an outsider cannot make a fronta program serve -------------------------------------------

struct outcome {
    int status = -1;
    std::string output;
};

// Runs this program with FRONTA_WORKER=`value`, and `channel` (if any) at descriptor 100.
outcome run_as_worker(const std::string& value, int channel = -1, const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> args = prefix;
    args.push_back("/proc/" + std::to_string(getpid()) + "/exe");
    args.push_back("--scenario=main_ran");
    child_process c = start_child(args, {.env = {"FRONTA_WORKER=" + value, "PATH=/usr/bin:/bin"},
                                         .inherit_env = false,
                                         .channel = channel,
                                         .stderr_too = true});
    outcome result;
    result.status = finish_child(c, 30s, 30s);
    result.output = c.output;
    close_child(c);
    return result;
}

TEST(process_pool_outsiders, a_malformed_or_channelless_worker_variable_is_refused_loudly) {
    for (const std::string& value :
         std::vector<std::string>{"", "garbage", "fd=100;client=1;secret=00",
                                  "fd=100;client=" + std::to_string(getpid()) + ";secret=00"}) {
        const outcome o = run_as_worker(value);
        EXPECT_NE(exit_code(o.status), 0) << "FRONTA_WORKER='" << value << "' exited 0";
        EXPECT_EQ(o.output.find("main ran"), std::string::npos) << value;
        EXPECT_NE(o.output.find("refuses to serve"), std::string::npos) << value << ": " << o.output;
    }
}

TEST(process_pool_outsiders, another_program_holding_the_socket_cannot_make_it_serve) {
    int sockets[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
    // The parent is a shell, not a copy of this program (the shell runs it as a child).
    const outcome o = run_as_worker("fd=100;client=" + std::to_string(getpid()) + ";secret=00", sockets[1],
                                    {"/bin/sh", "-c", "\"$0\" \"$@\"; exit $?"});
    close(sockets[0]);
    close(sockets[1]);
    EXPECT_EQ(exit_code(o.status), 126) << o.output;
    EXPECT_NE(o.output.find("refuses to serve"), std::string::npos) << o.output;
}

TEST(process_pool_outsiders, a_hello_without_the_pools_secret_gets_no_service) {
    namespace wire = fronta::process::wire;
    for (const bool hello_first : {true, false}) {
        int sockets[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
        std::string frames;
        if (hello_first)
            frames += wire::encode(wire::kind::hello, 0, std::string(fronta::detail::build_id()) + "\nwrong");
        frames += wire::encode(wire::kind::task, 1, "anything");
        ASSERT_EQ(write(sockets[0], frames.data(), frames.size()), static_cast<ssize_t>(frames.size()));
        const outcome o =
            run_as_worker("fd=100;client=" + std::to_string(getpid()) + ";secret=0123456789abcdef", sockets[1]);
        close(sockets[1]);
        char reply[64];
        fcntl(sockets[0], F_SETFL, O_NONBLOCK);
        EXPECT_LE(read(sockets[0], reply, sizeof reply), 0) << "the worker answered an outsider";
        close(sockets[0]);
        EXPECT_EQ(exit_code(o.status), 4) << o.output;
        EXPECT_EQ(o.output.find("main ran"), std::string::npos);
    }
}

TEST(process_pool_outsiders, a_program_with_elevated_privileges_refuses_to_be_a_worker) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to make a set-user-ID copy";
    if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
    // A set-user-ID-root copy of this program, run as `nobody`: the kernel marks it AT_SECURE.
    const std::string dir = "/tmp/fronta_setuid_" + std::to_string(getpid());
    const std::string copy = dir + "/worker";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    {
        std::ifstream from("/proc/self/exe", std::ios::binary);
        std::ofstream to(copy, std::ios::binary);
        to << from.rdbuf();
    }
    chmod(copy.c_str(), 04755);
    outcome probe;
    {
        child_process c = start_child(
            {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy, "--scenario=print_secure"});
        probe.status = finish_child(c, 30s, 30s);
        probe.output = c.output;
        close_child(c);
    }
    if (probe.output.find("secure 1") == std::string::npos) {
        std::remove(copy.c_str());
        rmdir(dir.c_str());
        GTEST_SKIP() << "set-user-ID has no effect here (nosuid mount?): " << probe.output;
    }
    child_process c = start_child({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy,
                                   "--scenario=main_ran"},
                                  {.env = {"FRONTA_WORKER=fd=100;client=1;secret=00"}});
    const int status = finish_child(c, 30s, 30s);
    close_child(c);
    std::remove(copy.c_str());
    rmdir(dir.c_str());
    EXPECT_EQ(exit_code(status), 126);
    EXPECT_EQ(c.output.find("main ran"), std::string::npos);
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    if (const auto name = scenario_asked(argc, argv)) return run_scenario(*name);
    return run_tests(argc, argv);
}
