#include "es/sealed.h"

#include <cstring>

#include <rapidjson/document.h>

#include "es/json.h"

#include <sodium.h>

namespace es {

namespace {

constexpr std::string_view kSealedPrefix = R"({"$sealed":")";
constexpr std::string_view kSealedSuffix = R"("})";
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

std::string associated_data(std::string_view subject, const Uuid& id) {
  std::string ad(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
  ad.append(subject);
  return ad;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Result<std::optional<std::string>> subject_of(std::string_view metadata) {
  if (metadata.empty() || metadata.find("\"$subject\"") == std::string_view::npos)
    return std::optional<std::string>();
  rapidjson::Document doc;
  doc.Parse(metadata.data(), metadata.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::optional<std::string>();
  auto it = doc.FindMember("$subject");
  if (it == doc.MemberEnd()) return std::optional<std::string>();
  if (!it->value.IsString()) return Status::invalid("metadata $subject must be a string");
  std::string subject(it->value.GetString(), it->value.GetStringLength());
  ES_RETURN_IF_ERROR(SubjectKeys::validate(subject));
  return std::optional<std::string>(std::move(subject));
}

std::optional<std::string> forgotten_subject(const RecordedEvent& e) {
  if (e.stream != kSubjectsStream || e.type != kForgottenType) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(e.data.data(), e.data.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto it = doc.FindMember("subject");
  if (it == doc.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool is_sealed(std::string_view data) {
  return data.starts_with(kSealedPrefix) && data.ends_with(kSealedSuffix);
}

std::string seal(const SubjectKey& key, std::string_view subject, const Uuid& id,
                 std::string_view data) {
  static const bool initialized = sodium_init() >= 0;
  (void)initialized;
  // The nonce: a digest of the id and the data under the key.
  unsigned char nonce[kNonceBytes];
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), key.size(), sizeof nonce);
  crypto_generichash_update(&state, id.bytes.data(), id.bytes.size());
  crypto_generichash_update(&state, bytes(data), data.size());
  crypto_generichash_final(&state, nonce, sizeof nonce);
  const std::string ad = associated_data(subject, id);
  std::string box(kNonceBytes + data.size() + kTagBytes, '\0');
  std::memcpy(box.data(), nonce, kNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(box.data()) + kNonceBytes, &written, bytes(data),
      data.size(), bytes(ad), ad.size(), nullptr, nonce, key.data());
  box.resize(kNonceBytes + written);
  std::string b64(sodium_base64_encoded_len(box.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), bytes(box), box.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(kSealedPrefix) + b64 + std::string(kSealedSuffix);
}

std::optional<std::string> unseal(const SubjectKey& key, std::string_view subject, const Uuid& id,
                                  std::string_view sealed) {
  if (!is_sealed(sealed)) return std::nullopt;
  const std::string_view b64 = sealed.substr(
      kSealedPrefix.size(), sealed.size() - kSealedPrefix.size() - kSealedSuffix.size());
  std::string box(b64.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), b64.data(),
                        b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < kNonceBytes + kTagBytes) {
    return std::nullopt;
  }
  const std::string ad = associated_data(subject, id);
  std::string data(len - kNonceBytes - kTagBytes, '\0');
  unsigned long long out = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(data.data()), &out, nullptr,
          bytes(std::string_view(box).substr(kNonceBytes, len - kNonceBytes)), len - kNonceBytes,
          bytes(ad), ad.size(), bytes(box), key.data()) != 0) {
    return std::nullopt;
  }
  data.resize(out);
  return data;
}

}  // namespace es
