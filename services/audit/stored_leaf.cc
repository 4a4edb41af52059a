#include "services/audit/stored_leaf.h"

#include <openssl/sha.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "embedded_sql/audit_leaf_dictionary.h"

namespace kinex::audit {
namespace {

constexpr absl::string_view kCompressedMagic = "KXAZ";
constexpr size_t kHeaderBytes = 4 + 1 + 4;  // magic, dictionary, length
constexpr int kNewestDictionary = 1;
// zlib's level 3: on the realistic mix (audit_bench BM_CompressLeaf) about
// 10% more bytes than the default level 6 for 40% less CPU; compression runs
// on the log's commit path.
constexpr int kLevel = 3;
// SHA-256 of dictionary 1's bytes: leaves stored with it need exactly these.
constexpr absl::string_view kDictionary1Sha256 =
    "f506b56e10e397160e049e0cfb4af9b80e85976fab6d19a8f35b7a5f3ff8e573";

// Dictionary `text`'s lines as the canonical encoding writes strings.
std::string DictionaryBytes(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const uint32_t n = static_cast<uint32_t>(line.size());
    const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                         static_cast<char>(n >> 8), static_cast<char>(n)};
    out.append(len, 4);
    out.append(line.data(), line.size());
  }
  return out;
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// Dictionary 1, or empty when the embedded file is not the frozen one (a
// build that edited it: it then compresses nothing and cannot read what
// dictionary 1 compressed, rather than reading it wrongly).
const std::string& Dictionary1() {
  static const std::string* const dictionary = [] {
    std::string bytes = DictionaryBytes(schema::kLeafDictionaryV1);
    if (Sha256Hex(bytes) != kDictionary1Sha256) bytes.clear();
    return new std::string(std::move(bytes));
  }();
  return *dictionary;
}

// A thread's deflate stream and its inflate stream, each made on the thread's
// first use of that direction and reset for each leaf (a new stream per leaf
// would allocate and clear its state every time). Separate, so that the many
// threads that only read leaves never hold deflate's 256 KB.
class ThreadStream {
 public:
  enum class Direction { kDeflate, kInflate };
  explicit ThreadStream(Direction direction) : direction_(direction) {
    ok_ = direction == Direction::kDeflate
              ? deflateInit2(&z_, kLevel, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK
              : inflateInit2(&z_, -MAX_WBITS) == Z_OK;
  }
  ~ThreadStream() {
    if (!ok_) return;
    if (direction_ == Direction::kDeflate) {
      deflateEnd(&z_);
    } else {
      inflateEnd(&z_);
    }
  }
  ThreadStream(const ThreadStream&) = delete;
  ThreadStream& operator=(const ThreadStream&) = delete;

  bool ok() const { return ok_; }
  z_stream& z() { return z_; }

 private:
  const Direction direction_;
  z_stream z_{};
  bool ok_ = false;
};

ThreadStream& ThreadDeflater() {
  thread_local ThreadStream stream(ThreadStream::Direction::kDeflate);
  return stream;
}

ThreadStream& ThreadInflater() {
  thread_local ThreadStream stream(ThreadStream::Direction::kInflate);
  return stream;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored audit leaf: ", what));
}

}  // namespace

absl::string_view LeafDictionary(int version) {
  return version == 1 ? absl::string_view(Dictionary1()) : absl::string_view();
}

std::string CompressLeaf(absl::string_view canonical) {
  const std::string& dictionary = Dictionary1();
  if (dictionary.empty() || canonical.size() > kMaxStoredLeafBytes) {
    return std::string(canonical);
  }
  ThreadStream& stream = ThreadDeflater();
  if (!stream.ok()) return std::string(canonical);
  z_stream& z = stream.z();
  if (deflateReset(&z) != Z_OK ||
      deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK) {
    return std::string(canonical);
  }
  // Only worth storing when smaller than the canonical bytes.
  std::string out(canonical.size(), '\0');
  if (out.size() <= kHeaderBytes) return std::string(canonical);
  const uint32_t n = static_cast<uint32_t>(canonical.size());
  std::memcpy(out.data(), kCompressedMagic.data(), 4);
  out[4] = static_cast<char>(kNewestDictionary);
  out[5] = static_cast<char>(n >> 24);
  out[6] = static_cast<char>(n >> 16);
  out[7] = static_cast<char>(n >> 8);
  out[8] = static_cast<char>(n);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(canonical.data()));
  z.avail_in = static_cast<uInt>(canonical.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + kHeaderBytes);
  z.avail_out = static_cast<uInt>(out.size() - kHeaderBytes);
  // Z_STREAM_END only if everything fit in fewer bytes than the original.
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return std::string(canonical);
  out.resize(kHeaderBytes + z.total_out);
  return out;
}

absl::StatusOr<std::string> ExpandLeaf(absl::string_view stored) {
  if (!absl::StartsWith(stored, kCompressedMagic)) return std::string(stored);
  if (stored.size() < kHeaderBytes) return Corrupt("compressed header cut short");
  const int version = static_cast<unsigned char>(stored[4]);
  const std::string& dictionary = Dictionary1();
  if (version != 1) return Corrupt(absl::StrCat("unknown dictionary ", version));
  if (dictionary.empty()) {
    return absl::InternalError(
        "stored audit leaf: this build's dictionary 1 is not the frozen one "
        "(services/audit/leaf_dictionary_v1.txt was edited); it cannot read compressed leaves");
  }
  const auto byte = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(stored[i])); };
  const uint32_t n = byte(5) << 24 | byte(6) << 16 | byte(7) << 8 | byte(8);
  if (n > kMaxStoredLeafBytes) {
    return Corrupt(absl::StrCat("claims ", n, " bytes, more than the ", kMaxStoredLeafBytes,
                                " a leaf may have"));
  }
  ThreadStream& stream = ThreadInflater();
  if (!stream.ok()) return absl::ResourceExhaustedError("stored audit leaf: no inflate stream");
  z_stream& z = stream.z();
  if (inflateReset(&z) != Z_OK ||
      inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK) {
    return absl::InternalError("stored audit leaf: cannot set the inflate dictionary");
  }
  // One spare byte: a stream longer than it claims fills it rather than
  // ending, and is refused.
  std::string out(static_cast<size_t>(n) + 1, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(stored.data() + kHeaderBytes));
  z.avail_in = static_cast<uInt>(stored.size() - kHeaderBytes);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END) return Corrupt("the compressed bytes do not inflate");
  if (z.total_out != n) {
    return Corrupt(absl::StrCat("inflates to ", z.total_out, " bytes, not the ", n, " it claims"));
  }
  if (z.avail_in != 0) return Corrupt("trailing bytes after the compressed leaf");
  out.resize(n);
  return out;
}

}  // namespace kinex::audit
