// tests/e2e/frames.cc: malformed frames straight to esd's ROUTER.
//
//   e2e_frames ESD_BINARY
//
// Starts esd (argv[1]) in a temp dir on a free loopback port, then sends,
// over a DEALER socket, frames a well-behaved client never sends: empty,
// random bytes, a wrong protocol version, an unknown kind, a truncated
// append, counts of 2^32-1 (which must not be allocated), two frames, a
// 60 MiB frame (over the 48 MiB limit: ZeroMQ drops that connection), data
// that is not JSON; and a client that asks for 120 whole-log reads and never
// reads them, and 20 connections that each send 40 MiB of a 47 MiB frame
// (esd's RssAnon must stay within its bounds). Each (but the oversize one)
// must get an ErrorReply
// within 2 s; esd's memory must stay small; afterwards ordinary requests
// still work; SIGTERM stops esd with exit 0. Prints one line per case.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "es/client.h"
#include "es/group.h"

#include "protocol/messages.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace protocol = es::protocol;
using protocol::Kind;
using Clock = std::chrono::steady_clock;

// What hostile frames may add to esd's memory (resident and peak) over what
// it holds once started: about three copies of a 47 MiB frame. Measured from
// the start, since a sanitizer build starts at ~120 MB, a plain one at ~15.
constexpr long kMaxGrowthKb = 150 * 1024;
long start_rss_kb = 0;
constexpr auto kReplyTimeout = std::chrono::milliseconds(2000);

int failures = 0;

void fail(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  std::fflush(stdout);
  ++failures;
}

// --- the esd process ---------------------------------------------------------

struct Esd {
  pid_t pid = -1;
  fs::path dir;
  std::string endpoint;
  std::string log;

  ~Esd() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (!dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("free_port");
    std::exit(1);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts esd and waits until it answers a status request (at most 15 s).
// Retries on another port when the port was taken meanwhile.
bool start_esd(Esd& esd, const char* binary) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    int port = free_port();
    esd.endpoint = "tcp://127.0.0.1:" + std::to_string(port);
    esd.log = (esd.dir / ("esd." + std::to_string(attempt) + ".log")).string();
    std::string data = (esd.dir / "data").string();
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return false;
    }
    if (pid == 0) {
      FILE* f = std::freopen(esd.log.c_str(), "w", stderr);
      (void)f;
      std::vector<std::string> args = {
          binary, "--data", data, "--listen", esd.endpoint, "--publish", "tcp://127.0.0.1:*"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary, argv.data());
      std::perror("execv");
      std::_Exit(127);
    }
    esd.pid = pid;
    es::Client client(esd.endpoint, es::ClientOptions{std::chrono::milliseconds(500)});
    auto deadline = Clock::now() + std::chrono::seconds(15);
    bool retry = false;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        esd.pid = -1;
        std::string log = read_file(esd.log);
        if (log.find("cannot listen") != std::string::npos) {
          retry = true;
          break;
        }
        std::printf("esd exited at start (status %d): %s\n", status, log.c_str());
        return false;
      }
      if (client.status().ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!retry) {
      std::printf("esd did not answer within 15 s: %s\n", read_file(esd.log).c_str());
      return false;
    }
  }
  return false;
}

// RssAnon of a process (its own memory, not LMDB's file pages), in kB.
long anon_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::atol(line.c_str() + 8);
  }
  return -1;
}

// VmRSS and VmHWM (peak) of a process, in kB.
std::pair<long, long> memory_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long rss = -1, hwm = -1;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atol(line.c_str() + 6);
  }
  return {rss, hwm};
}

// --- frames --------------------------------------------------------------------

void put_u16(std::string& s, std::uint16_t v) { s.append(reinterpret_cast<const char*>(&v), 2); }
void put_u32(std::string& s, std::uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& s, std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& s, std::string_view v) {
  put_u32(s, static_cast<std::uint32_t>(v.size()));
  s.append(v);
}

std::string header(std::uint16_t version, std::uint8_t kind, std::uint64_t request_id) {
  std::string s;
  put_u16(s, protocol::kMagic);
  put_u16(s, version);
  s.push_back(static_cast<char>(kind));
  put_u64(s, request_id);
  return s;
}

es::AppendRequest one_event(std::string stream, std::string data) {
  es::AppendRequest rq;
  es::ProposedEvent e;
  e.stream = std::move(stream);
  e.id = es::Uuid::v7();
  e.type = "T";
  e.data = std::move(data);
  rq.events.push_back(std::move(e));
  return rq;
}

// --- the cases --------------------------------------------------------------------

struct Expect {
  std::uint64_t request_id;
  es::Code code;
  std::string message_part;  // empty: any
};

// Waits up to 2 s for one reply on `sock` and checks it is the ErrorReply
// expected.
void expect_error(const std::string& name, zmq::socket_t& sock, const Expect& want,
                  Clock::time_point sent) {
  zmq::pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0}};
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(sent + kReplyTimeout - Clock::now());
  if (left.count() <= 0 || zmq::poll(items, 1, left) == 0) {
    return fail(name + ": no reply within 2 s");
  }
  zmq::message_t msg;
  if (!sock.recv(msg, zmq::recv_flags::dontwait)) return fail(name + ": recv failed");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent).count();
  if (msg.more()) return fail(name + ": the reply has more than one frame");
  std::string_view frame(static_cast<const char*>(msg.data()), msg.size());
  auto h = protocol::decode_header(frame);
  if (!h.ok()) return fail(name + ": reply header does not decode: " + h.status().message());
  if (h->kind != Kind::kError) {
    return fail(name + ": reply kind " + std::to_string(static_cast<int>(h->kind)) +
                ", not 100 (error)");
  }
  if (h->request_id != want.request_id) {
    return fail(name + ": reply request id " + std::to_string(h->request_id) + ", expected " +
                std::to_string(want.request_id));
  }
  auto body = protocol::decode_body<protocol::ErrorReply>(frame);
  if (!body.ok()) return fail(name + ": ErrorReply does not decode: " + body.status().message());
  auto code = static_cast<es::Code>(body->code);
  if (code != want.code) {
    return fail(name + ": error code " + es::code_name(code) + " (" + body->message +
                "), expected " + es::code_name(want.code));
  }
  if (!want.message_part.empty() && body->message.find(want.message_part) == std::string::npos) {
    return fail(name + ": message '" + body->message + "' does not mention '" + want.message_part +
                "'");
  }
  std::printf("ok   %-44s -> error %s: %s (%lld ms)\n", name.c_str(), es::code_name(code),
              body->message.c_str(), static_cast<long long>(ms));
  std::fflush(stdout);
}

void send_case(const std::string& name, zmq::socket_t& sock, const std::string& frame,
               const Expect& want) {
  auto sent = Clock::now();
  if (!sock.send(zmq::buffer(frame), zmq::send_flags::none)) return fail(name + ": send failed");
  expect_error(name, sock, want, sent);
}

void check_memory(const std::string& after, pid_t pid) {
  auto [rss, hwm] = memory_kb(pid);
  if (rss < 0) return fail("cannot read /proc/" + std::to_string(pid) + "/status");
  const long limit = start_rss_kb + kMaxGrowthKb;
  if (rss > limit || hwm > limit) {
    return fail("esd memory after " + after + ": VmRSS " + std::to_string(rss / 1024) +
                " MB, VmHWM " + std::to_string(hwm / 1024) + " MB (limit " +
                std::to_string(limit / 1024) + " MB: " + std::to_string(start_rss_kb / 1024) +
                " at the start + " + std::to_string(kMaxGrowthKb / 1024) + ")");
  }
  std::printf("ok   memory after %-31s -> VmRSS %ld MB, VmHWM %ld MB\n", after.c_str(), rss / 1024,
              hwm / 1024);
  std::fflush(stdout);
}

zmq::socket_t dealer(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

// A raw ZMTP 3.0 peer (NULL mechanism, DEALER) on a TCP socket to
// 127.0.0.1:`port` that starts a frame of `claimed` bytes and sends only
// `sent` of them: ZeroMQ allocates the whole frame when its header comes.
// Returns the socket (kept open by the caller), or -1.
int partial_frame(int port, std::uint64_t claimed, std::uint64_t sent) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return ::close(fd), -1;
  std::string greeting(64, '\0');
  greeting[0] = static_cast<char>(0xff);
  greeting[9] = 0x7f;
  greeting[10] = 3;  // version 3.0
  std::memcpy(&greeting[12], "NULL", 4);
  std::string ready = "\x05READY";
  const std::string name = "Socket-Type", value = "DEALER";
  ready += static_cast<char>(name.size());
  ready += name;
  ready += std::string("\0\0\0", 3) + static_cast<char>(value.size()) + value;
  std::string out = greeting;
  out += '\x04';  // a short command
  out += static_cast<char>(ready.size());
  out += ready;
  out += '\x02';  // a long message frame, its size next (big-endian)
  for (int i = 7; i >= 0; --i) out += static_cast<char>((claimed >> (8 * i)) & 0xff);
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
    return ::close(fd), -1;
  const std::string chunk(1u << 20, 'p');
  for (std::uint64_t done = 0; done < sent;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), sent - done));
    const ssize_t w = ::send(fd, chunk.data(), n, MSG_NOSIGNAL);
    if (w <= 0) break;
    done += static_cast<std::uint64_t>(w);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ESD_BINARY\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Esd esd;
  const char* tmp_env = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp_env != nullptr && *tmp_env != '\0' ? tmp_env : "/tmp") +
                        "/es-e2e-frames.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  esd.dir = buf.data();
  if (!start_esd(esd, argv[1])) return 1;
  std::printf("esd pid %d on %s (temp dir %s)\n", esd.pid, esd.endpoint.c_str(), esd.dir.c_str());
  start_rss_kb = memory_kb(esd.pid).first;

  zmq::context_t ctx(1);
  zmq::socket_t sock = dealer(ctx, esd.endpoint);
  const auto kProtocol = es::Code::kProtocol;

  send_case("empty frame", sock, std::string(), {0, kProtocol, "shorter than a header"});

  {
    std::mt19937 rng(12345);
    std::string junk(97, '\0');
    for (auto& c : junk) c = static_cast<char>(rng() & 0xff);
    junk[0] = 0x00;  // never the magic
    send_case("97 random bytes", sock, junk, {0, kProtocol, "magic"});
    send_case("5 random bytes", sock, junk.substr(0, 5), {0, kProtocol, "shorter than a header"});
  }

  send_case("valid header, the next protocol version", sock,
            header(protocol::kProtocolVersion + 1, static_cast<std::uint8_t>(Kind::kStatus), 3),
            {0, kProtocol, "version " + std::to_string(protocol::kProtocolVersion + 1)});
  send_case("valid header, protocol version 0", sock,
            header(0, static_cast<std::uint8_t>(Kind::kHello), 4), {0, kProtocol, "version 0"});
  send_case("header with unknown kind 77", sock, header(protocol::kProtocolVersion, 77, 5),
            {5, kProtocol, "77"});
  send_case("header with a reply kind (100) as request", sock,
            header(protocol::kProtocolVersion, 100, 6), {6, kProtocol, "100"});

  {
    std::string full = protocol::encode(Kind::kAppend, 7, one_event("frames-1", "{\"a\":1}"));
    send_case("truncated append body (10 bytes short)", sock, full.substr(0, full.size() - 10),
              {7, kProtocol, ""});
    send_case("append header without a body", sock, full.substr(0, protocol::kHeaderBytes),
              {7, kProtocol, ""});
    send_case("append with 3 trailing bytes", sock, full + "xyz", {7, kProtocol, "trailing"});
  }

  {
    // events: count 1; the first event's stream name claims 2^32-1 bytes.
    std::string f = header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kAppend), 9);
    put_u32(f, 1);
    put_u32(f, 0xFFFFFFFFu);
    f += "abc";
    send_case("append: string length 2^32-1", sock, f, {9, kProtocol, ""});
  }
  {
    // events: count 2^32-1, a few bytes follow.
    std::string f =
        header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kAppend), 10);
    put_u32(f, 0xFFFFFFFFu);
    f += std::string(64, '\0');
    send_case("append: event count 2^32-1", sock, f, {10, kProtocol, ""});
  }
  {
    // one valid event, then an expectations count of 2^32-1.
    std::string valid = protocol::encode(Kind::kAppend, 11, one_event("frames-1", "1"));
    std::string f = valid.substr(0, valid.size() - 4);  // drop the expectations count (0)
    put_u32(f, 0xFFFFFFFFu);
    f += std::string(32, '\0');
    send_case("append: expectation count 2^32-1", sock, f, {11, kProtocol, ""});
  }
  {
    // a read whose types vector claims 2^32-1 entries.
    std::string f = header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kRead), 12);
    put_str(f, "frames-1");
    put_u64(f, 0);
    f.push_back(0);  // from_end
    f.push_back(0);  // backwards
    put_u32(f, 10);  // limit
    put_u32(f, 0xFFFFFFFFu);
    f += std::string(16, '\0');
    send_case("read: types count 2^32-1", sock, f, {12, kProtocol, ""});
  }
  {
    // a streams request whose "after" claims 2^32-1 bytes.
    std::string f =
        header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kStreams), 13);
    put_str(f, "");
    put_u32(f, 0xFFFFFFFFu);
    send_case("streams: string length 2^32-1", sock, f, {13, kProtocol, ""});
  }
  check_memory("the 2^32-1 counts", esd.pid);

  {
    auto sent = Clock::now();
    bool ok = sock.send(zmq::buffer(header(protocol::kProtocolVersion,
                                           static_cast<std::uint8_t>(Kind::kStatus), 14)),
                        zmq::send_flags::sndmore) &&
              sock.send(zmq::buffer(std::string("second frame")), zmq::send_flags::none);
    if (!ok) {
      fail("two-frame message: send failed");
    } else {
      expect_error("two-frame message", sock, {0, kProtocol, "one frame"}, sent);
    }
  }

  {
    std::string f = protocol::encode(Kind::kAppend, 15, one_event("frames-1", "{\"a\":"));
    send_case("append: data that is not JSON", sock, f, {15, es::Code::kInvalidArgument, "data"});
    f = protocol::encode(Kind::kAppend, 16, one_event("frames-1", "\xff\xfe"));
    send_case("append: data that is not UTF-8", sock, f, {16, es::Code::kInvalidArgument, "data"});
    auto rq = one_event("frames-1", "{}");
    rq.events[0].metadata = "[1]";
    send_case("append: metadata that is not an object", sock,
              protocol::encode(Kind::kAppend, 17, rq),
              {17, es::Code::kInvalidArgument, "metadata"});
    send_case("append: empty stream name", sock,
              protocol::encode(Kind::kAppend, 18, one_event("", "{}")),
              {18, es::Code::kInvalidArgument, ""});
  }
  {
    // Checkpoints and groups: names checked, reserved names and positions
    // past the head refused, a member's slot list capped.
    const auto kInvalid = es::Code::kInvalidArgument;
    send_case("checkpoint set: reserved name", sock,
              protocol::encode(Kind::kCheckpointSet, 30, es::Checkpoint{"$group/g/1", 1}),
              {30, kInvalid, "reserved"});
    send_case("checkpoint set: past the head", sock,
              protocol::encode(Kind::kCheckpointSet, 31, es::Checkpoint{"n", 1'000'000'000}),
              {31, kInvalid, "beyond the head"});
    send_case("checkpoint get: empty name", sock,
              protocol::encode(Kind::kCheckpointGet, 32, protocol::CheckpointQuery{""}),
              {32, kInvalid, "subscription name"});
    protocol::GroupSyncRequest sync{"g", "m", false, {}};
    sync.held.resize(es::kGroupSlots + 1);
    send_case("group sync: more slots than a group has", sock,
              protocol::encode(Kind::kGroupSync, 33, sync), {33, kInvalid, "at most 64"});
    sync.held.clear();
    sync.group = "";
    send_case("group sync: empty group name", sock, protocol::encode(Kind::kGroupSync, 34, sync),
              {34, kInvalid, "group name"});
    send_case("replica report: empty endpoint", sock,
              protocol::encode(Kind::kReplicaReport, 35, protocol::ReplicaReport{"", 1}),
              {35, kInvalid, "replica endpoint"});
    std::string report =
        protocol::encode(Kind::kReplicaReport, 36, protocol::ReplicaReport{"tcp://x:1", 1});
    send_case("replica report: truncated", sock, report.substr(0, report.size() - 3),
              {36, kProtocol, ""});
    send_case("promote: a primary", sock,
              protocol::encode(Kind::kPromote, 37, protocol::PromoteRequest{false}),
              {37, kInvalid, "primary already"});
    send_case("promote: without a body", sock,
              header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kPromote), 38),
              {38, kProtocol, ""});
  }

  {
    // 60 MiB on its own connection: over ZMQ_MAXMSGSIZE, the node's ZeroMQ
    // drops that connection without a reply; nothing else is affected.
    zmq::socket_t big = dealer(ctx, esd.endpoint);
    std::string f =
        header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kAppend), 19);
    f.resize(60u << 20, 'x');
    auto sent = Clock::now();
    if (!big.send(zmq::buffer(f), zmq::send_flags::none)) {
      fail("60 MiB frame: send failed");
    } else {
      zmq::pollitem_t items[] = {{big.handle(), 0, ZMQ_POLLIN, 0}};
      if (zmq::poll(items, 1, std::chrono::milliseconds(2000)) != 0) {
        fail("60 MiB frame: got a reply; ZeroMQ should have dropped the connection");
      } else {
        std::printf("ok   %-44s -> no reply (connection dropped), %lld ms\n",
                    "60 MiB frame (over the 48 MiB limit)",
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent)
                            .count()));
      }
    }
    // The first connection still gets answers.
    send_case("empty frame after the oversize one", sock, std::string(), {0, kProtocol, ""});
  }
  check_memory("all malformed frames", esd.pid);
  {
    // Real counts rather than claimed ones: 1.5 million empty events (32
    // bytes each on the wire, ~150 decoded) in a 47 MiB frame, under the
    // frame limit. Refused before decoding: no vector holds more items than
    // an append may have events.
    std::string f =
        header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kAppend), 21);
    std::uint32_t n = ((47u << 20) - 64) / 32;
    put_u32(f, n);
    f += std::string(std::size_t{n} * 32, '\0');
    put_u32(f, 0);
    send_case("append: 1.5M empty events in 47 MiB", sock, f, {21, kProtocol, "items"});
    check_memory("1.5M empty events", esd.pid);
    // 100,000 (the most an append may hold) still decode; the empty data
    // is then refused as not JSON.
    f = header(protocol::kProtocolVersion, static_cast<std::uint8_t>(Kind::kAppend), 22);
    put_u32(f, static_cast<std::uint32_t>(es::kMaxAppendEvents));
    f += std::string(es::kMaxAppendEvents * 32, '\0');
    put_u32(f, 0);
    send_case("append: 100,000 empty events", sock, f, {22, es::Code::kInvalidArgument, "data"});
    check_memory("100,000 empty events", esd.pid);
  }

  {
    // Ordinary requests still work.
    es::Client client(esd.endpoint, es::ClientOptions{std::chrono::milliseconds(5000)});
    auto appended = client.append(one_event("frames-ok", "{\"fine\":true}"));
    if (!appended.ok()) {
      fail("append after the malformed frames: " + appended.status().to_string());
    } else if (appended->streams.size() != 1 || appended->streams[0].first_position != 1 ||
               appended->streams[0].first_version != 0) {
      fail(
          "append after the malformed frames: unexpected result (nothing else may have been "
          "stored)");
    } else {
      std::printf("ok   %-44s -> position %llu\n", "append via es::Client",
                  static_cast<unsigned long long>(appended->streams[0].first_position));
    }
    es::ReadRequest rq;
    auto read = client.read(rq);
    if (!read.ok()) {
      fail("read after the malformed frames: " + read.status().to_string());
    } else if (read->events.size() != 1 || read->events[0].stream != "frames-ok" ||
               read->events[0].data != "{\"fine\":true}") {
      fail("read --all after the malformed frames: expected exactly the one good event, got " +
           std::to_string(read->events.size()));
    } else {
      std::printf("ok   %-44s -> the one event\n", "read all via es::Client");
    }
    // And so does the raw socket that sent all the junk.
    auto sent = Clock::now();
    sock.send(zmq::buffer(protocol::encode(Kind::kStatus, 20, protocol::Empty{})),
              zmq::send_flags::none);
    zmq::pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::message_t msg;
    if (zmq::poll(items, 1, kReplyTimeout) == 0 || !sock.recv(msg, zmq::recv_flags::dontwait)) {
      fail("status on the junk socket: no reply within 2 s");
    } else {
      auto h = protocol::decode_header(
          std::string_view(static_cast<const char*>(msg.data()), msg.size()));
      if (!h.ok() || h->kind != Kind::kStatusOk || h->request_id != 20) {
        fail("status on the junk socket: not a StatusOk for request 20");
      } else {
        std::printf("ok   %-44s -> status ok (%lld ms)\n", "status on the same raw socket",
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent)
                            .count()));
      }
    }
  }

  {
    // A client that asks for whole-log reads and never reads the answers:
    // what the node queues for it is bounded (a few replies), where it used
    // to queue all of them (120 x 8 MiB).
    es::Client loader(esd.endpoint, es::ClientOptions{std::chrono::milliseconds(10000)});
    const std::string kilobyte = "\"" + std::string(1000, 'k') + "\"";
    for (int batch = 0; batch < 10; ++batch) {
      es::AppendRequest rq;
      for (int i = 0; i < 1000; ++i)
        rq.events.push_back(one_event("slow-reader", kilobyte).events[0]);
      if (!loader.append(rq).ok()) fail("slow reader: preload failed");
    }
    const long before = anon_kb(esd.pid);
    // Five such clients at once: each costs at most 4 queued replies and the
    // one being sent, about 8 MiB each (esd(8), Memory per connection).
    constexpr int kSlowReaders = 5;
    std::vector<zmq::socket_t> slow;
    es::ReadRequest all;
    all.limit = 10'000;
    for (int c = 0; c < kSlowReaders; ++c) {
      slow.push_back(dealer(ctx, esd.endpoint));
      slow.back().set(zmq::sockopt::rcvhwm, 1);
      for (int i = 0; i < 120; ++i) {
        slow.back().send(zmq::buffer(protocol::encode(Kind::kRead, 100 + i, all)),
                         zmq::send_flags::none);
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const long after = anon_kb(esd.pid);
    const long grown_mb = (after - before) / 1024;
    // (ASan's quarantine keeps freed replies: a looser bound there.)
    const long bound_mb = (std::getenv("ASAN_OPTIONS") != nullptr ? 120 : 64) * kSlowReaders;
    if (before < 0 || grown_mb > bound_mb) {
      fail("slow readers: esd's RssAnon grew by " + std::to_string(grown_mb) + " MB for " +
           std::to_string(kSlowReaders) +
           " x 120 unread 8 MiB replies (bound: " + std::to_string(bound_mb) + ")");
    } else {
      std::printf("ok   %-44s -> RssAnon %+ld MB (bound %ld)\n", "5 clients x 120 reads never read",
                  grown_mb, bound_mb);
    }
    // The node answers others meanwhile.
    send_case("empty frame beside the slow reader", sock, std::string(), {0, kProtocol, ""});
  }

  {
    // Twenty connections that each start a 47 MiB frame and send 40 MiB of
    // it: ZeroMQ holds each whole frame, so what they cost is the frame
    // limit times the connections (esd(8), Memory per connection), and the
    // node answers meanwhile.
    const int port = std::atoi(esd.endpoint.substr(esd.endpoint.rfind(':') + 1).c_str());
    const long before = anon_kb(esd.pid);
    std::vector<int> fds;
    for (int i = 0; i < 20; ++i) {
      const int fd = partial_frame(port, 47u << 20, 40u << 20);
      if (fd >= 0) fds.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long grown_mb = (anon_kb(esd.pid) - before) / 1024;
    const long bound_mb = 20 * 48 + 100;
    if (fds.size() != 20 || grown_mb > bound_mb) {
      fail("partial frames: " + std::to_string(fds.size()) + " connections, RssAnon +" +
           std::to_string(grown_mb) + " MB (bound " + std::to_string(bound_mb) + ")");
    } else {
      std::printf("ok   %-44s -> RssAnon %+ld MB (bound %ld)\n", "20 partial 47 MiB frames",
                  grown_mb, bound_mb);
    }
    send_case("empty frame beside the partial frames", sock, std::string(), {0, kProtocol, ""});
    for (int fd : fds) ::close(fd);
  }

  // SIGTERM: a clean stop with exit 0.
  ::kill(esd.pid, SIGTERM);
  int status = 0;
  auto deadline = Clock::now() + std::chrono::seconds(15);
  pid_t got = 0;
  while (Clock::now() < deadline && (got = ::waitpid(esd.pid, &status, WNOHANG)) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (got != esd.pid) {
    fail("esd did not exit within 15 s of SIGTERM");
  } else {
    esd.pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fail("esd did not exit 0 after SIGTERM (wait status " + std::to_string(status) + ")");
    } else if (read_file(esd.log).find("stopped at position 1") == std::string::npos) {
      fail("esd's log has no 'stopped at position 1'");
    } else {
      std::printf("ok   %-44s -> exit 0\n", "SIGTERM");
    }
  }
  if (failures > 0) {
    std::printf("--- esd log:\n%s", read_file(esd.log).c_str());
    std::printf("FAIL frames: %d failures\n", failures);
    return 1;
  }
  std::printf("PASS frames\n");
  return 0;
}
