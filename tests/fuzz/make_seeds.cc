// tests/fuzz/make_seeds.cc
//
// Writes the seed corpus (tests/fuzz/corpus/<harness>/): a few valid
// inputs per harness, made with the encoders the decoders mirror, so that
// fuzzing starts past the first length check. Run by hand when a format
// changes, and commit what it writes:
//   build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// (fuzz_config's seeds are examples/esd.toml and a few lines: by hand.)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/codec.h"
#include "store/journal.h"
#include "wire_kinds.h"

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace es::protocol;

fs::path g_root;

void put(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / harness);
  std::ofstream out(g_root / harness / name, std::ios::binary);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%s\n", harness.c_str(), name.c_str());
    std::exit(1);
  }
}

es::RecordedEvent event(const std::string& stream, es::Version version) {
  es::RecordedEvent e;
  e.position = version + 1;
  e.stream = stream;
  e.version = version;
  e.id = es::Uuid::v7();
  e.type = "OrderPlaced";
  e.time_us = 1764633600000000;
  e.data = R"({"order":42,"total":"9.90"})";
  e.metadata = R"({"correlation":"c-1"})";
  e.chain.fill(0xab);
  return e;
}

// A body of each kind, with a few fields set, behind its index byte.
template <class T>
T sample() {
  return T{};
}
template <>
es::AppendRequest sample() {
  es::AppendRequest r;
  es::ProposedEvent e;
  e.stream = "orders-1";
  e.id = es::Uuid::v7();
  e.type = "OrderPlaced";
  e.data = R"({"order":1})";
  r.events.push_back(e);
  r.expectations.push_back({"orders-1", es::ExpectedVersion::no_stream()});
  return r;
}
template <>
es::ReadRequest sample() {
  es::ReadRequest r;
  r.stream = "orders-1";
  r.types = {"OrderPlaced"};
  return r;
}
template <>
GroupSyncRequest sample() {
  GroupSyncRequest r;
  r.group = "mailer";
  r.member = "m1";
  r.held = {SlotCheckpoint{0, 7, true}};
  return r;
}
template <>
es::ReadResult sample() {
  es::ReadResult r;
  r.events = {event("orders-1", 0), event("orders-1", 1)};
  r.next = 2;
  return r;
}
template <>
EventsNotice sample() {
  EventsNotice r;
  r.events = {event("orders-2", 0)};
  return r;
}
template <>
StatusReply sample() {
  StatusReply r;
  r.role = "primary";
  r.version = "0.1.0";
  r.replicas = {ReplicaInfo{"tcp://127.0.0.1:27401", 3, 10, false, "replica"}};
  return r;
}
template <>
ErrorReply sample() {
  return ErrorReply::from(es::Status::wrong_expected_version("orders-1 is at 3", 3));
}

void wire_seeds() {
  int index = 0;
#define ES_FUZZ_SEED(T)                                                                 \
  put("fuzz_wire", "kind-" + std::to_string(index),                                     \
      std::string(1, static_cast<char>(index)) + encode(Kind::kError, 7, sample<T>())); \
  ++index;
  ES_FUZZ_WIRE_KINDS(ES_FUZZ_SEED)
#undef ES_FUZZ_SEED
}

void record_seeds() {
  std::string body;
  for (int i = 0; i < 3; ++i) {
    es::RecordedEvent e = event(i == 2 ? "" : "orders-" + std::to_string(i), i);
    if (i == 2) e.data = "null", e.metadata.clear();
    es::store::encode_record(e, &body);
    body.append(reinterpret_cast<const char*>(e.chain.data()), e.chain.size());
    put("fuzz_record", "record-" + std::to_string(i), body);
  }
}

// Journal payloads (mode 1) and a sealed frame as on disk (mode 0).
void journal_seeds() {
  using es::store::Journal;
  std::string frame;
  Journal::begin(&frame);
  std::string record;
  for (int v = 0; v < 2; ++v) {
    const es::RecordedEvent e = event("orders-1", v);
    es::store::encode_record(e, &record);
    record.append(reinterpret_cast<const char*>(e.chain.data()), e.chain.size());
    Journal::add_event(&frame, record);
  }
  Journal::add_checkpoint(&frame, "mailer", 2);
  Journal::add_checkpoint_removal(&frame, "old");
  const std::string payload = frame.substr(Journal::kHeaderBytes);
  put("fuzz_journal", "payload", std::string(1, '\x01') + payload);

  char dir[] = "/tmp/es-fuzz-seeds-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::exit(1);
  const std::string path = std::string(dir) + "/journal";
  {
    auto j = Journal::open(path, Journal::kMinSize);
    if (!j.ok()) std::exit(1);
    (*j)->start(1);
    if (!(*j)->write(&frame, 1, 2, 1).ok()) std::exit(1);
  }
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  const std::size_t n = Journal::frame_bytes(payload.size());
  put("fuzz_journal", "frame", std::string(1, '\x00') + file.substr(Journal::kRingStart, n));
  put("fuzz_journal", "header", std::string(1, '\x02') + file.substr(0, 64));
}

void json_seeds() {
  put("fuzz_json", "line-append",
      std::string(1, '\0') +
          R"({"stream":"orders-1","type":"OrderPlaced","data":{"order":1,"items":[1,2.5e3]},"metadata":{"m":"x"},"expect":"no-stream"})");
  put("fuzz_json", "line-read",
      std::string(1, '\0') +
          R"({"position":3,"stream":"orders-1","version":2,"id":"0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b","type":"T","time":"2026-11-22T23:59:59.123456Z","data":null,"metadata":null})");
  put("fuzz_json", "value",
      std::string(1, '\1') + R"( [1, -0.5e-3, "caf\u00e9 \"q\"", true, null, {}] )");
  put("fuzz_json", "object",
      std::string(1, '\2') + R"({"a":{"b":[{"c":"\ud83d\ude00"}]},"n":12345678901234567890})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  wire_seeds();
  record_seeds();
  journal_seeds();
  json_seeds();
  return 0;
}
