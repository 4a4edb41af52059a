// A real `kinex --target=all` over mTLS on loopback, against the clients
// issue 12 describes (bounded resources):
//   - a client that never reads its replies: its channel announces a zero
//     flow-control window and it never asks for a reply, so every reply the
//     server sends stays unsent, and on the synchronous server each such
//     call would keep its handler thread parked (blocked on the send) and
//     its buffers for as long as the connection lives;
//   - ~500 idle TLS connections.
// The server's threads (/proc/<pid>/task) and resident memory
// (/proc/<pid>/status VmRSS) stay under generous bounds while they are
// there, and come back near the baseline once they leave. The figures are
// printed ([bounds] lines) for the issue note.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/common/tls.h"
#include "tests/integration/cluster.h"
#include "tests/testing/proc_fields.h"

namespace kinex::testing {
namespace {

namespace av1 = kinex::audit::v1;

// The pid of the process listening on TCP `port` (found through the socket
// inode in /proc/net/tcp and /proc/<pid>/fd), or -1.
pid_t PidListeningOn(int port) {
  std::string inode;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (f.size() < 10 || f[3] != "0A") continue;  // LISTEN
      const std::string local = f[1];
      const std::string hex_port = local.substr(local.rfind(':') + 1);
      if (std::stoi(hex_port, nullptr, 16) == port) inode = f[9];
    }
  }
  if (inode.empty()) return -1;
  const std::string target = absl::StrCat("socket:[", inode, "]");
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* fd = readdir(fds)) {
      char buf[128];
      const std::string link = absl::StrCat(fd_dir, "/", fd->d_name);
      ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
      if (n > 0 && std::string(buf, n) == target) found = pid;
    }
    closedir(fds);
    if (found != -1) break;
  }
  closedir(proc);
  return found;
}

int Threads(pid_t pid) {
  int n = 0;
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

int64_t RssKiB(pid_t pid) {
  return kinex::testing::ProcField(absl::StrCat("/proc/", pid, "/status"), "VmRSS");
}

struct Sample {
  int threads;
  int64_t rss_kib;
};

Sample Measure(pid_t pid, const char* phase) {
  Sample s{Threads(pid), RssKiB(pid)};
  std::cout << "[bounds] " << phase << ": threads=" << s.threads << " rss_mib=" << s.rss_kib / 1024
            << std::endl;
  return s;
}

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

TlsFiles Auditor(const KinexCluster& c) {
  const std::string base = c.pki() + "/agencies/auditor-kinex-dpo-auditor";
  return {.ca_file = c.pki() + "/ca.pem", .cert_file = base + ".pem", .key_file = base + ".key"};
}

// A channel of its own (not shared through the global subchannel pool), so
// each is its own TCP+TLS connection.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, const TlsFiles& files,
                                          bool /*unused*/ = false) {
  auto creds = MakeChannelCredentials(files);
  if (!creds.ok()) abort();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, *creds, args);
}

bool TreeHeadOk(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-kinex-actor", "Test Auditor");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  av1::SignedTreeHead head;
  av1::GetSignedTreeHeadRequest req;
  return av1::Audit::NewStub(channel)->GetSignedTreeHead(&ctx, req, &head).ok();
}

// A client that never reads its replies, below gRPC's client library (which
// always grants a stream some window): raw HTTP/2 over mTLS that announces
// SETTINGS_INITIAL_WINDOW_SIZE 0 and never sends a WINDOW_UPDATE, so no
// reply DATA can ever reach it, while it answers SETTINGS and PING like a
// live peer. Each connection opens `calls` unary calls at once.
class NoReadConnection {
 public:
  NoReadConnection(int port, const TlsFiles& files, const std::string& method, int calls) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_use_certificate_chain_file(ctx_, files.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, files.key_file.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(ctx_, files.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn));
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) return;
    std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    out += Frame(0x4, 0, 0, std::string("\x00\x04\x00\x00\x00\x00", 6));  // window 0
    std::string block;
    for (auto [k, v] :
         std::vector<std::pair<std::string, std::string>>{{":method", "POST"},
                                                          {":scheme", "https"},
                                                          {":path", method},
                                                          {":authority", "localhost"},
                                                          {"content-type", "application/grpc"},
                                                          {"te", "trailers"},
                                                          {"x-kinex-actor", "No Read"}}) {
      block += '\0';
      block += static_cast<char>(k.size()) + k + static_cast<char>(v.size()) + v;
    }
    for (int i = 0; i < calls; ++i) {
      const uint32_t id = 1 + 2 * i;
      out += Frame(0x1, 0x4, id, block);                                   // END_HEADERS
      out += Frame(0x0, 0x1, id, std::string("\x00\x00\x00\x00\x00", 5));  // empty request
    }
    SSL_write(ssl_, out.data(), static_cast<int>(out.size()));
    ok_ = true;
    reader_ = std::thread([this] { Serve(); });
  }
  ~NoReadConnection() { Leave(); }
  bool ok() const { return ok_; }

  void Leave() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }

 private:
  static std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& p) {
    std::string f;
    f += static_cast<char>(p.size() >> 16);
    f += static_cast<char>(p.size() >> 8);
    f += static_cast<char>(p.size());
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    for (int shift : {24, 16, 8, 0}) f += static_cast<char>((stream >> shift) & 0xff);
    return f + p;
  }
  bool ReadN(std::string& buf, size_t n) {
    buf.resize(n);
    size_t got = 0;
    while (got < n) {
      int r = SSL_read(ssl_, buf.data() + got, static_cast<int>(n - got));
      if (r <= 0) return false;
      got += r;
    }
    return true;
  }
  // Reads frames; acknowledges SETTINGS and PING; ignores everything else.
  void Serve() {
    std::string header, payload;
    while (ReadN(header, 9)) {
      const size_t len = (static_cast<uint8_t>(header[0]) << 16) |
                         (static_cast<uint8_t>(header[1]) << 8) | static_cast<uint8_t>(header[2]);
      const uint8_t type = header[3], flags = header[4];
      if (!ReadN(payload, len)) return;
      std::string reply;
      if (type == 0x4 && !(flags & 0x1)) reply = Frame(0x4, 0x1, 0, "");
      if (type == 0x6 && !(flags & 0x1)) reply = Frame(0x6, 0x1, 0, payload);
      if (!reply.empty()) SSL_write(ssl_, reply.data(), static_cast<int>(reply.size()));
    }
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
  std::thread reader_;
};

// Polls `pred` every 500 ms for up to `timeout`.
template <typename Pred>
bool Eventually(absl::Duration timeout, Pred pred) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return pred();
}

constexpr int kNoReadConnections = 8;
constexpr int kNoReadCalls = 3000;
constexpr int kIdleConnections = 500;

TEST(ServerBoundsE2E, NoReadClientAndIdleConnectionsStayBoundedAndMemoryReturns) {
  signal(SIGPIPE, SIG_IGN);  // the server may close a no-read connection under us
  // Rate limits out of the way: the bounds under test are the server's own.
  auto cluster = KinexCluster::Start(
      {.extra_config =
           "gateway { rate_limit_per_agency: 100000 rate_limit_burst: 100000 }\n"
           "server { reply_write_timeout_seconds: 5 max_connection_idle_seconds: 15 }\n"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KinexCluster& c = **cluster;
  const pid_t pid = PidListeningOn(PortOf(c.gateway_address()));
  ASSERT_GT(pid, 0);
  const TlsFiles auditor = Auditor(c);
  // Warm up: one ordinary call, so lazily built state is in the baseline.
  ASSERT_TRUE(TreeHeadOk(OwnChannel(c.gateway_address(), auditor, false)));
  absl::SleepFor(absl::Seconds(1));
  const Sample baseline = Measure(pid, "baseline");

  Sample peak = baseline;
  auto track = [&](const char* phase) {
    Sample s = Measure(pid, phase);
    peak.threads = std::max(peak.threads, s.threads);
    peak.rss_kib = std::max(peak.rss_kib, s.rss_kib);
    return s;
  };
  {
    std::vector<std::unique_ptr<NoReadConnection>> no_read;
    for (int i = 0; i < kNoReadConnections; ++i) {
      no_read.push_back(std::make_unique<NoReadConnection>(
          PortOf(c.gateway_address()), auditor, "/kinex.audit.v1.Audit/GetSignedTreeHead",
          kNoReadCalls / kNoReadConnections));
      ASSERT_TRUE(no_read.back()->ok());
    }
    std::vector<std::shared_ptr<grpc::Channel>> idle;
    for (int i = 0; i < kIdleConnections; ++i) {
      idle.push_back(OwnChannel(c.gateway_address(), auditor, false));
      idle.back()->GetState(/*try_to_connect=*/true);
    }
    for (auto& ch : idle) {
      ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
    }
    for (int i = 0; i < 10; ++i) {
      track("during");
      absl::SleepFor(absl::Seconds(1));
    }
    // The server still answers an ordinary client while all that is held.
    EXPECT_TRUE(TreeHeadOk(OwnChannel(c.gateway_address(), auditor, false)))
        << "the server must keep serving well-behaved clients";
    track("during");
    // Generous: the thread cap (server.max_threads 256) plus gRPC's own.
    EXPECT_LT(peak.threads, 300) << "threads grew without bound";
    EXPECT_LT(peak.rss_kib, baseline.rss_kib + 256 * 1024) << "memory grew without bound";
  }
  // The clients have left: threads and memory come back (jemalloc returns
  // freed pages within seconds; wait for it to settle, then judge).
  Eventually(absl::Seconds(30), [&] {
    Sample s = Measure(pid, "after");
    // Idle pollers kept: up to 16 per completion queue, 2 queues.
    return s.threads <= baseline.threads + 40 && s.rss_kib < baseline.rss_kib + 32 * 1024;
  });
  const Sample after = Measure(pid, "after (final)");
  std::cout << "[bounds] summary: baseline threads=" << baseline.threads
            << " rss_mib=" << baseline.rss_kib / 1024 << "; peak threads=" << peak.threads
            << " rss_mib=" << peak.rss_kib / 1024 << "; after threads=" << after.threads
            << " rss_mib=" << after.rss_kib / 1024 << std::endl;
  EXPECT_LE(after.threads, baseline.threads + 40) << "threads stayed after the client left";
  EXPECT_LT(after.rss_kib, baseline.rss_kib + 64 * 1024) << "memory stayed after the client left";
  EXPECT_TRUE(TreeHeadOk(OwnChannel(c.gateway_address(), auditor, false)));
  // The unread replies were abandoned by the server, each logged.
  const std::string logs = c.Logs();
  EXPECT_NE(logs.find("\"msg\":\"reply abandoned\""), std::string::npos);
  EXPECT_NE(logs.find("the client did not read the reply within 5 s"), std::string::npos);
}

}  // namespace
}  // namespace kinex::testing
