// es/sealed.h
//
// The sealed form of an event's data (es/subject_keys.h): the data JSON
// becomes {"$sealed":"<base64 of nonce:24 ciphertext>"}, XChaCha20-Poly1305
// (libsodium) under the subject's key, with the subject and the event id as
// associated data (a sealed value moved to another event or subject does
// not open). The nonce is a keyed digest of the event id and the data, so
// that sealing the same event twice gives the same bytes (an idempotent
// retry is recognized) while two different data never share a nonce.
// Without the key, or with another one (a subject forgotten and then given
// a new key), the data reads as kRedactedData.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "es/event.h"
#include "es/result.h"
#include "es/subject_keys.h"

namespace es {

// es forget records each forgotten subject in this stream, which only the
// node writes: {"subject":"user-3"} (es/subject_keys.h); every node that
// commits it destroys its copy of the key.
inline constexpr std::string_view kSubjectsStream = "$subjects";
inline constexpr std::string_view kForgottenType = "$forgotten";
// The subject of a $forgotten event's data; nullopt when it is none.
std::optional<std::string> forgotten_subject(const RecordedEvent& e);

// What a reader gets for sealed data it has no key for.
inline constexpr std::string_view kRedactedData = R"({"$redacted":true})";

// The "$subject" member of an event's metadata (canonical JSON); nullopt
// when it has none. A "$subject" that is not a string is an error.
Result<std::optional<std::string>> subject_of(std::string_view metadata);
// Whether `data` is sealed.
bool is_sealed(std::string_view data);
// The sealed form of `data` for the event `id` of `subject`.
std::string seal(const SubjectKey& key, std::string_view subject, const Uuid& id,
                 std::string_view data);
// The data again; nullopt when it does not open with `key`.
std::optional<std::string> unseal(const SubjectKey& key, std::string_view subject, const Uuid& id,
                                  std::string_view sealed);

}  // namespace es
