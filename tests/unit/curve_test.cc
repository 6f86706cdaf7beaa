// The key files, the allow-list and the roles of es/curve.h.
#include "es/curve.h"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "es/sealed.h"
#include "es/subject_keys.h"

#include "temp_dir.h"

#include <sys/stat.h>

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string a_key() {
  auto pair = es::generate_key_pair();
  REQUIRE(pair.ok());
  return pair->public_key;
}

}  // namespace

TEST_CASE("key files: written private, read back, refused when others may read them", "[curve]") {
  es::test::TempDir dir;
  const std::string base = dir.path() + "/alice";
  auto pair = es::generate_key_pair();
  REQUIRE(pair.ok());
  CHECK(es::is_curve_key(pair->public_key));
  CHECK(es::is_curve_key(pair->secret_key));
  CHECK(pair->public_key != pair->secret_key);
  REQUIRE(es::write_key_files(base, *pair, false).ok());
  struct stat st {};
  REQUIRE(::stat((base + ".key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((base + ".pub").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  auto loaded = es::load_key_pair(base + ".key");
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key == pair->public_key);
  CHECK(loaded->secret_key == pair->secret_key);
  CHECK(*es::load_public_key(base + ".pub") == pair->public_key);
  CHECK(*es::load_public_key(base + ".key") == pair->public_key);
  CHECK(*es::load_public_key(pair->public_key) == pair->public_key);

  // Never replaced unless asked.
  auto other = es::generate_key_pair();
  es::Status again = es::write_key_files(base, *other, false);
  CHECK(again.code() == es::Code::kInvalidArgument);
  CHECK(again.message().find("exists already") != std::string::npos);
  CHECK(es::load_key_pair(base + ".key")->secret_key == pair->secret_key);
  REQUIRE(es::write_key_files(base, *other, true).ok());
  CHECK(es::load_key_pair(base + ".key")->secret_key == other->secret_key);

  ::chmod((base + ".key").c_str(), 0640);
  auto exposed = es::load_key_pair(base + ".key");
  REQUIRE_FALSE(exposed.ok());
  CHECK(exposed.status().message().find("others may read it (mode 0640): chmod 600") !=
        std::string::npos);
  // A .pub file is no key pair.
  auto pub = es::load_key_pair(base + ".pub");
  REQUIRE_FALSE(pub.ok());
  CHECK(pub.status().message().find("holds no key pair") != std::string::npos);
}

TEST_CASE("key files: a bad line names the file and the line", "[curve]") {
  es::test::TempDir dir;
  const std::string path = dir.path() + "/bad.key";
  write(path, "# comment\npublic-key = \"short\"\n");
  ::chmod(path.c_str(), 0600);
  auto bad = es::load_key_pair(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == path + ":2: public-key is not a key (40 characters of Z85)");
  write(path, "colour = \"blue\"\n");
  CHECK(es::load_key_pair(path).status().message() ==
        path + ":1: 'colour' is not public-key or secret-key");
  CHECK(es::load_public_key("nonsense")
            .status()
            .message()
            .find("is neither a public key (40 characters of Z85) nor a file") !=
        std::string::npos);
  CHECK_FALSE(es::is_curve_key(std::string(39, 'a')));
  CHECK_FALSE(es::is_curve_key(std::string(39, 'a') + "~"));  // not Z85
  CHECK(es::is_curve_key(std::string(40, 'a')));
}

TEST_CASE("allow-list: roles, names, comments and the lines refused", "[curve]") {
  es::test::TempDir dir;
  const std::string path = dir.path() + "/allow";
  const std::string ops = a_key(), alice = a_key(), reader = a_key();
  write(path, "# ROLE KEY NAME\n\nadmin " + ops + " ops laptop\n  write\t" + alice + "\nread " +
                  reader + " dashboards\n");
  auto list = es::AllowList::load(path);
  REQUIRE(list.ok());
  CHECK((*list)->size() == 3);
  REQUIRE((*list)->find(ops) != nullptr);
  CHECK((*list)->find(ops)->role == es::Role::kAdmin);
  CHECK((*list)->find(ops)->name == "ops laptop");
  CHECK((*list)->find(alice)->role == es::Role::kWrite);
  CHECK((*list)->find(alice)->name == alice.substr(0, 8));  // no name: the key's start
  CHECK((*list)->find(reader)->role == es::Role::kRead);
  CHECK((*list)->find(a_key()) == nullptr);

  write(path, "# x\nadmn " + ops + "\n");
  CHECK(es::AllowList::load(path).status().message() ==
        path + ":2: 'admn' is not a role (read, write, replica or admin); did you mean 'admin'?");
  write(path, "read\n");
  CHECK(es::AllowList::load(path).status().message().find(":1: expected ROLE PUBLIC-KEY [NAME]") !=
        std::string::npos);
  write(path, "read " + ops + "\nwrite " + ops + "\n");
  CHECK(es::AllowList::load(path).status().message() ==
        path + ":2: the key " + ops + " is listed twice");
  CHECK_FALSE(es::AllowList::load(dir.path() + "/missing").ok());
}

TEST_CASE("roles: admin covers all, read is in every role, the others only themselves", "[curve]") {
  using es::Role;
  for (Role have : {Role::kRead, Role::kWrite, Role::kReplica, Role::kAdmin}) {
    CHECK(es::role_covers(have, Role::kRead));
    CHECK(es::role_covers(Role::kAdmin, have));
    CHECK(es::parse_role(es::role_name(have)) == have);
  }
  CHECK_FALSE(es::role_covers(Role::kRead, Role::kWrite));
  CHECK_FALSE(es::role_covers(Role::kWrite, Role::kAdmin));
  CHECK_FALSE(es::role_covers(Role::kWrite, Role::kReplica));
  CHECK_FALSE(es::role_covers(Role::kReplica, Role::kWrite));
  CHECK_FALSE(es::role_covers(Role::kReplica, Role::kAdmin));
  CHECK_FALSE(es::parse_role("Admin").has_value());
}

// ================================================= data subjects' keys

TEST_CASE("sealed data opens with its subject's key only, and the same event seals the same",
          "[subjects]") {
  es::test::TempDir dir;
  auto keys = es::SubjectKeys::open(dir.path() + "/keys", dir.path() + "/data");
  REQUIRE(keys.ok());
  auto key = (*keys)->get_or_create("user-3");
  REQUIRE(key.ok());
  const es::Uuid id = es::Uuid::v7();
  const std::string data = R"({"email":"grace@example.com"})";
  const std::string sealed = es::seal(*key, "user-3", id, data);
  CHECK(es::is_sealed(sealed));
  CHECK(sealed.find("grace") == std::string::npos);
  CHECK(es::seal(*key, "user-3", id, data) == sealed);  // a retry is recognized
  CHECK(es::seal(*key, "user-3", id, R"({"email":"x"})") != sealed);
  CHECK(es::unseal(*key, "user-3", id, sealed) == data);
  CHECK_FALSE(es::unseal(*key, "user-4", id, sealed));              // another subject
  CHECK_FALSE(es::unseal(*key, "user-3", es::Uuid::v7(), sealed));  // another event
  auto again = (*keys)->get_or_create("user-3");
  REQUIRE(again.ok());
  CHECK(*again == *key);
  // Destroyed: gone from memory and disk; a new key does not open old data.
  REQUIRE((*keys)->destroy("user-3").ok());
  auto gone = (*keys)->get("user-3");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  auto reopened = es::SubjectKeys::open(dir.path() + "/keys", dir.path() + "/data");
  REQUIRE(reopened.ok());
  CHECK_FALSE((*reopened)->get("user-3")->has_value());
  auto fresh = (*reopened)->get_or_create("user-3");
  REQUIRE(fresh.ok());
  CHECK_FALSE(es::unseal(*fresh, "user-3", id, sealed));
  CHECK((*reopened)->destroy("never-seen").ok());
}

TEST_CASE("the subject key store refuses a place inside the data directory, or open to others",
          "[subjects]") {
  es::test::TempDir dir;
  auto inside = es::SubjectKeys::open(dir.path() + "/data/keys", dir.path() + "/data");
  REQUIRE_FALSE(inside.ok());
  CHECK_THAT(inside.status().message(), Catch::Matchers::Contains("inside the data directory"));
  std::filesystem::create_directories(dir.path() + "/open");
  std::filesystem::permissions(dir.path() + "/open", std::filesystem::perms::owner_all |
                                                         std::filesystem::perms::group_read |
                                                         std::filesystem::perms::group_exec);
  auto open = es::SubjectKeys::open(dir.path() + "/open", dir.path() + "/data");
  REQUIRE_FALSE(open.ok());
  CHECK_THAT(open.status().message(), Catch::Matchers::Contains("chmod 700"));
  CHECK_THAT(es::subject_of(R"({"$subject":3})").status().message(),
             Catch::Matchers::Contains("must be a string"));
  CHECK(es::subject_of(R"({"$subject":"user-3","x":1})").value() == "user-3");
  CHECK_FALSE(es::subject_of(R"({"other":1})").value().has_value());
}
