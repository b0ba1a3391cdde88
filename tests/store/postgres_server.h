// Test helper: a real PostgreSQL server for the tests of one binary, from the Debian package's
// binaries (/usr/lib/postgresql/<version>/bin): initdb in a temp dir, postgres on a free loopback
// port, a fresh database per test (create_database), everything stopped and removed at exit.
// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
// (runuser), in a temp dir handed to it. When the binaries are absent, start() says why and
// tests skip with that message.
#pragma once

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace sinan::test {

class PostgresServer {
  public:
    // The server shared by every test of this binary, started on first use; nullptr (with the
    // reason in *why) when it cannot start.
    static PostgresServer* shared(std::string* why) {
        static std::string reason;
        static std::unique_ptr<PostgresServer> server = start(&reason);
        *why = reason;
        return server.get();
    }

    ~PostgresServer() {
        run(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate stop");
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // A new empty database; returns its postgres:// URI ("" when CREATE DATABASE failed).
    std::string create_database() {
        const std::string name = "sinan_test_" + std::to_string(++n_databases_);
        PGconn* c = PQconnectdb(uri("postgres").c_str());
        PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        PQfinish(c);
        return ok ? uri(name) : "";
    }

    std::string uri(const std::string& database) const {
        return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
    }

  private:
    static std::unique_ptr<PostgresServer> start(std::string* why) {
        std::string bin;
        for (const char* v : {"17", "16", "15", "14", "13"}) {
            const std::string b = std::string("/usr/lib/postgresql/") + v + "/bin";
            if (std::filesystem::exists(b + "/initdb") && std::filesystem::exists(b + "/pg_ctl")) {
                bin = b;
                break;
            }
        }
        if (bin.empty()) {
            *why = "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)";
            return nullptr;
        }
        std::string tmpl = (std::filesystem::temp_directory_path() / "sinan-pg-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) {
            *why = "cannot make a temp dir for PostgreSQL";
            return nullptr;
        }
        auto server = std::unique_ptr<PostgresServer>(new PostgresServer);
        server->bin_ = bin;
        server->dir_ = tmpl;
        if (geteuid() == 0) {
            const passwd* pw = getpwnam("postgres");
            if (pw == nullptr || chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                *why = "running as root and there is no `postgres` user to run PostgreSQL as";
                return nullptr;
            }
            server->as_user_ = "runuser -u postgres -- ";
        }
        server->port_ = free_port();
        const std::string data = tmpl + "/data", log = tmpl + "/server.log";
        if (!server->run(bin + "/initdb -D " + data + " -U postgres -A trust -E UTF8 --locale=C --no-sync")) {
            *why = "initdb failed: " + read(tmpl + "/cmd.log");
            return nullptr;
        }
        // fsync off: test data need not survive a power cut, and it keeps the tests fast.
        if (!server->run(bin + "/pg_ctl -D " + data + " -l " + log + " -w -t 60 -o \"-p " +
                         std::to_string(server->port_) + " -k " + tmpl +
                         " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off\" start")) {
            *why = "PostgreSQL did not start: " + read(log);
            return nullptr;
        }
        return server;
    }

    static int free_port() {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        int port = 0;
        if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            port = ntohs(addr.sin_port);
        close(fd);
        return port;
    }

    static std::string read(const std::string& path) {
        std::ifstream in(path);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

    // Runs a command as the server's user (in dir_, output to dir_/cmd.log); true on exit 0.
    bool run(const std::string& command) const {
        const std::string line = "cd " + dir_ + " && " + as_user_ + command + " > " + dir_ + "/cmd.log 2>&1";
        return std::system(line.c_str()) == 0;
    }

    std::string bin_, dir_, as_user_;
    int port_ = 0;
    int n_databases_ = 0;
};

}  // namespace sinan::test
