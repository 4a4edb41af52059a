#include "services/audit/stored_leaf.h"

#include <openssl/sha.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "embedded_sql/audit_leaf_dictionary.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

// Stored forms (stored_leaf.h): "KXAZ" 1 is deflate with dictionary 1,
// "KXAS" 2 and 3 zstd with dictionary 2 or 3, "KXAR" 3 zstd with dictionary
// 3 and the entry's child pseudonyms referred to (KXAR or KXAS 3 written
// now).
constexpr absl::string_view kDeflateMagic = "KXAZ";
constexpr absl::string_view kZstdMagic = "KXAS";
constexpr absl::string_view kReferencesMagic = "KXAR";
constexpr size_t kHeaderBytes = 4 + 1 + 4;  // magic, dictionary, length
// The dictionary every leaf is compressed with now.
constexpr int kWriteDictionary = 3;
// zstd's level 3 (its default): with dictionary 2 on the realistic mix
// (audit_bench BM_CompressLeaf), level 6 saved about 4 % more bytes for
// twice the CPU; compression runs on the log's commit path.
constexpr int kZstdLevel = 3;
// SHA-256 of each frozen dictionary's bytes: leaves stored with it need
// exactly these.
constexpr absl::string_view kDictionary1Sha256 =
    "f506b56e10e397160e049e0cfb4af9b80e85976fab6d19a8f35b7a5f3ff8e573";
constexpr absl::string_view kDictionary2Sha256 =
    "b387afd59a0526fc438c0e3fb09d3e3c7b42c601774a9ced5e1832aacac98552";
constexpr absl::string_view kDictionary3Sha256 =
    "412e2e519e4b03541e88e98e552bcba4eea8b9c5b3ba9176e12af7d6f59e7b5c";

// A length as the canonical encoding and the stored header write it: four
// bytes, big-endian.
void PutU32(uint32_t n, char* out) {
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
}

// The big-endian u32 at the start of `in` (at least four bytes).
uint32_t GetU32(absl::string_view in) {
  const auto byte = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(in[i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

void AppendString(absl::string_view text, std::string& out) {
  char len[4];
  PutU32(static_cast<uint32_t>(text.size()), len);
  out.append(len, 4);
  out.append(text.data(), text.size());
}

// Dictionary 1's source: each line is a string, as the canonical encoding
// writes strings.
std::string Dictionary1Bytes(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    AppendString(line, out);
  }
  return out;
}

// Dictionary 2's and 3's source: "s TEXT" a string as above, "x HEX" raw
// bytes, "#" a comment, empty lines nothing. Empty on any other line (the
// digest check then fails too).
std::string TemplateDictionaryBytes(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    if (absl::StartsWith(line, "s ")) {
      AppendString(line.substr(2), out);
    } else if (absl::StartsWith(line, "x ") && line.size() % 2 == 0) {
      out += absl::HexStringToBytes(line.substr(2));
    } else {
      return std::string();
    }
  }
  return out;
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

void AppendVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint of at most 4 bytes (< 2^28, more than any leaf) at `at`.
std::optional<uint64_t> ReadVarint(absl::string_view in, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 28 && at < in.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(in[at++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored audit leaf: ", what));
}

// A frozen dictionary's bytes, or empty when the embedded file is not the
// frozen one (a build that edited it: it then compresses nothing with it and
// cannot read what it compressed, rather than reading it wrongly).
const std::string& Dictionary(int version) {
  const auto frozen = [](std::string bytes, absl::string_view sha256) {
    if (Sha256Hex(bytes) != sha256) bytes.clear();
    return new std::string(std::move(bytes));
  };
  static const std::string* const one =
      frozen(Dictionary1Bytes(schema::kLeafDictionaryV1), kDictionary1Sha256);
  static const std::string* const two =
      frozen(TemplateDictionaryBytes(schema::kLeafDictionaryV2), kDictionary2Sha256);
  static const std::string* const three =
      frozen(TemplateDictionaryBytes(schema::kLeafDictionaryV3), kDictionary3Sha256);
  static const std::string* const none = new std::string();
  switch (version) {
    case 1:
      return *one;
    case 2:
      return *two;
    case 3:
      return *three;
    default:
      return *none;
  }
}

// The dictionary written now, digested once for compressing, and each zstd
// dictionary once for expanding; zstd only reads them, so every thread
// shares them. Null when the dictionary is not the frozen one. zstd takes
// the bytes as raw content (they do not begin with its trained
// dictionaries' magic number: they begin with a string's length,
// 0x0000000f).
const ZSTD_CDict* CompressDictionary() {
  static ZSTD_CDict* const cdict = [] {
    const std::string& d = Dictionary(kWriteDictionary);
    return d.empty() ? nullptr : ZSTD_createCDict(d.data(), d.size(), kZstdLevel);
  }();
  return cdict;
}

// Version 2 or 3.
const ZSTD_DDict* ExpandDictionary(int version) {
  const auto digest = [](int v) -> ZSTD_DDict* {
    const std::string& d = Dictionary(v);
    return d.empty() ? nullptr : ZSTD_createDDict(d.data(), d.size());
  };
  static ZSTD_DDict* const two = digest(2);
  static ZSTD_DDict* const three = digest(3);
  return version == 2 ? two : three;
}

// A thread's zstd contexts, made on its first use and reused for each leaf
// (a context per leaf would allocate its tables every time). Separate, so
// that the many threads that only read leaves never hold the compressor's.
struct CompressContext {
  CompressContext() : cctx(ZSTD_createCCtx()) {
    // The header says the length; zstd's own copy of it, its checksum and
    // the dictionary id would only repeat what the store already checks.
    ok = cctx != nullptr && !ZSTD_isError(ZSTD_CCtx_refCDict(cctx, CompressDictionary())) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0));
  }
  ~CompressContext() { ZSTD_freeCCtx(cctx); }
  CompressContext(const CompressContext&) = delete;
  CompressContext& operator=(const CompressContext&) = delete;
  ZSTD_CCtx* const cctx;
  bool ok = false;
};

struct ExpandContext {
  ExpandContext() : dctx(ZSTD_createDCtx()) {}
  ~ExpandContext() { ZSTD_freeDCtx(dctx); }
  ExpandContext(const ExpandContext&) = delete;
  ExpandContext& operator=(const ExpandContext&) = delete;
  ZSTD_DCtx* const dctx;
};

// A thread's inflate stream for dictionary-1 leaves, reset for each leaf.
class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&z_, -MAX_WBITS) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&z_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_; }
  z_stream& z() { return z_; }

 private:
  z_stream z_{};
  bool ok_ = false;
};

absl::Status NotFrozen(int version) {
  return absl::InternalError(
      absl::StrCat("stored audit leaf: this build's dictionary ", version,
                   " is not the frozen one (services/audit/leaf_dictionary_v", version,
                   ".txt was edited); it cannot read leaves compressed with it"));
}

// Inflates `payload` (deflate with dictionary 1) into `out`, which has one
// byte more than the leaf claims: a stream longer than it claims fills that
// byte rather than ending, and is refused.
absl::Status Inflate(absl::string_view payload, std::string& out) {
  thread_local Inflater inflater;
  if (!inflater.ok()) return absl::ResourceExhaustedError("stored audit leaf: no inflate stream");
  const std::string& dictionary = Dictionary(1);
  z_stream& z = inflater.z();
  if (inflateReset(&z) != Z_OK ||
      inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK) {
    return absl::InternalError("stored audit leaf: cannot set the inflate dictionary");
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (inflate(&z, Z_FINISH) != Z_STREAM_END) return Corrupt("the compressed bytes do not inflate");
  if (z.avail_in != 0) return Corrupt("trailing bytes after the compressed leaf");
  out.resize(z.total_out);
  return absl::OkStatus();
}

// Decompresses `payload` (one zstd frame with `ddict`) into `out`, which has
// a byte more than the most it may hold.
absl::Status Unzstd(absl::string_view payload, const ZSTD_DDict* ddict, std::string& out) {
  thread_local ExpandContext context;
  if (context.dctx == nullptr) {
    return absl::ResourceExhaustedError("stored audit leaf: no zstd context");
  }
  const size_t frame = ZSTD_findFrameCompressedSize(payload.data(), payload.size());
  if (!ZSTD_isError(frame) && frame != payload.size()) {
    return Corrupt("trailing bytes after the compressed leaf");
  }
  const size_t n = ZSTD_decompress_usingDDict(context.dctx, out.data(), out.size(), payload.data(),
                                              payload.size(), ddict);
  if (ZSTD_isError(n)) {
    // A frame that needs more room than the spare byte gives is one that
    // claims too little.
    return Corrupt(
        ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
            ? absl::StrCat("decompresses to more than the ", out.size() - 1, " bytes it claims")
            : absl::StrCat("the compressed bytes do not decompress (", ZSTD_getErrorName(n), ")"));
  }
  out.resize(n);
  return absl::OkStatus();
}

}  // namespace

namespace {

// PackIdentifiers, and whether any run became a reference to `children`.
std::string Pack(absl::string_view canonical, absl::Span<const std::string> children,
                 bool* referred) {
  struct Run {
    size_t gap;
    size_t start;
    size_t half;  // 0: a reference to children[child]
    size_t child = 0;
  };
  std::vector<Run> runs;
  std::string rest;
  rest.reserve(canonical.size());
  size_t copied = 0;  // canonical bytes up to here are in `rest` or a run
  *referred = false;
  // A run begins after a big-endian u32 length in range: three zero bytes,
  // then the length. A non-zero byte rules out every start that would need
  // it zero, so most of a leaf (text) is passed over three bytes at a time.
  const auto* const data = reinterpret_cast<const unsigned char*>(canonical.data());
  for (size_t i = 0; i + 4 <= canonical.size();) {
    if (data[i + 2] != 0) {
      i += 3;
      continue;
    }
    if (data[i + 1] != 0) {
      i += 2;
      continue;
    }
    if (data[i] != 0) {
      i += 1;
      continue;
    }
    const size_t len = data[i + 3];
    const size_t start = i + 4;
    if (len < kMinIdentifierRun || len > kMaxIdentifierRun || len % 2 != 0 ||
        start + len > canonical.size() ||
        !std::all_of(data + start, data + start + len,
                     [](unsigned char c) { return IsLowerHex(static_cast<char>(c)); })) {
      ++i;
      continue;
    }
    absl::StrAppend(&rest, canonical.substr(copied, start - copied));
    const absl::string_view digits = canonical.substr(start, len);
    const auto found = std::lower_bound(children.begin(), children.end(), digits);
    if (found != children.end() && *found == digits) {
      runs.push_back({start - copied, start, 0, static_cast<size_t>(found - children.begin())});
      *referred = true;
    } else {
      runs.push_back({start - copied, start, len / 2});
    }
    copied = start + len;
    i = copied;
  }
  absl::StrAppend(&rest, canonical.substr(copied));
  std::string out;
  out.reserve(5 + runs.size() * 4 + canonical.size());
  AppendVarint(runs.size(), out);
  for (const Run& r : runs) {
    AppendVarint(r.gap, out);
    out.push_back(static_cast<char>(r.half));
    if (r.half == 0) AppendVarint(r.child, out);
  }
  absl::StrAppend(&out, rest);
  for (const Run& r : runs) {
    if (r.half == 0) continue;
    absl::StrAppend(&out, absl::HexStringToBytes(canonical.substr(r.start, 2 * r.half)));
  }
  return out;
}

}  // namespace

std::string PackIdentifiers(absl::string_view canonical, absl::Span<const std::string> children) {
  bool referred = false;
  return Pack(canonical, children, &referred);
}

absl::StatusOr<std::string> UnpackIdentifiers(absl::string_view packed,
                                              absl::Span<const std::string> children) {
  size_t at = 0;
  const std::optional<uint64_t> count = ReadVarint(packed, at);
  // Each run takes at least two bytes of the header.
  if (!count.has_value() || *count > packed.size() / 2) {
    return Corrupt("identifier runs: bad count");
  }
  struct Run {
    uint64_t gap;
    size_t half;                   // 0: `child` below
    absl::string_view child = {};  // the pseudonym a reference names
  };
  std::vector<Run> runs;
  size_t binary = 0;
  for (uint64_t k = 0; k < *count; ++k) {
    const std::optional<uint64_t> gap = ReadVarint(packed, at);
    if (!gap.has_value() || at >= packed.size()) {
      return Corrupt(absl::StrCat("identifier runs: run ", k, " cut short"));
    }
    const auto half = static_cast<uint8_t>(packed[at++]);
    if (half == 0) {
      const std::optional<uint64_t> child = ReadVarint(packed, at);
      if (!child.has_value()) {
        return Corrupt(absl::StrCat("identifier runs: run ", k, " cut short"));
      }
      if (*child >= children.size()) {
        // The children come from the query index: a leaf that names more
        // than it gives back is one whose index rows were edited.
        return WithErrorReason(
            Corrupt(absl::StrCat("identifier runs: run ", k, " names child pseudonym ", *child,
                                 " of the entry's ", children.size())),
            reason::kAuditIndexTampered);
      }
      // A run PackIdentifiers replaced had 16 to 128 digits: a longer
      // "pseudonym" from the index is never expanded into the leaf.
      const absl::string_view named = children[*child];
      if (named.size() < kMinIdentifierRun || named.size() > kMaxIdentifierRun) {
        return WithErrorReason(
            Corrupt(absl::StrCat("identifier runs: run ", k, " names child pseudonym ", *child,
                                 " of the entry's ", children.size(), ", which has ", named.size(),
                                 " characters")),
            reason::kAuditIndexTampered);
      }
      runs.push_back({*gap, 0, named});
      continue;
    }
    if (half * 2 < kMinIdentifierRun || half * 2 > kMaxIdentifierRun) {
      return Corrupt(absl::StrCat("identifier runs: run ", k, " of ", half, " bytes"));
    }
    runs.push_back({*gap, half});
    binary += half;
  }
  if (at + binary > packed.size()) return Corrupt("identifier runs: more than the bytes");
  absl::string_view rest = packed.substr(at, packed.size() - at - binary);
  absl::string_view bytes = packed.substr(packed.size() - binary);
  std::string out;
  out.reserve(rest.size() + 2 * binary + runs.size() * 64);
  for (const Run& run : runs) {
    if (run.gap > rest.size()) return Corrupt("identifier runs: a gap past the end");
    absl::StrAppend(&out, rest.substr(0, run.gap));
    rest.remove_prefix(run.gap);
    if (run.half == 0) {
      absl::StrAppend(&out, run.child);
      continue;
    }
    absl::StrAppend(&out, absl::BytesToHexString(bytes.substr(0, run.half)));
    bytes.remove_prefix(run.half);
  }
  absl::StrAppend(&out, rest);
  return out;
}

absl::string_view LeafDictionary(int version) { return Dictionary(version); }

bool LeafRefersToChildren(absl::string_view stored) {
  return absl::StartsWith(stored, kReferencesMagic);
}

std::string CompressLeaf(absl::string_view canonical, absl::Span<const std::string> children) {
  const ZSTD_CDict* cdict = CompressDictionary();
  if (cdict == nullptr || canonical.size() > kMaxStoredLeafBytes ||
      canonical.size() <= kHeaderBytes) {
    return std::string(canonical);
  }
  thread_local CompressContext context;
  if (!context.ok) return std::string(canonical);
  // Only worth storing when smaller than the canonical bytes: zstd stops
  // with an error when the frame would not fit in fewer.
  std::string out(canonical.size(), '\0');
  bool referred = false;
  const std::string packed = Pack(canonical, children, &referred);
  std::memcpy(out.data(), (referred ? kReferencesMagic : kZstdMagic).data(), 4);
  out[4] = static_cast<char>(kWriteDictionary);
  PutU32(static_cast<uint32_t>(canonical.size()), out.data() + 5);
  const size_t written = ZSTD_compress2(context.cctx, out.data() + kHeaderBytes,
                                        out.size() - kHeaderBytes, packed.data(), packed.size());
  if (ZSTD_isError(written)) return std::string(canonical);
  out.resize(kHeaderBytes + written);
  return out;
}

absl::StatusOr<std::string> ExpandLeaf(absl::string_view stored,
                                       absl::Span<const std::string> children) {
  const bool deflated = absl::StartsWith(stored, kDeflateMagic);
  const bool refers = absl::StartsWith(stored, kReferencesMagic);
  if (!deflated && !refers && !absl::StartsWith(stored, kZstdMagic)) return std::string(stored);
  if (stored.size() < kHeaderBytes) return Corrupt("compressed header cut short");
  const int version = static_cast<unsigned char>(stored[4]);
  if (deflated ? version != 1 : refers ? version != 3 : version != 2 && version != 3) {
    return Corrupt(absl::StrCat("unknown dictionary ", version, " for ", stored.substr(0, 4)));
  }
  const ZSTD_DDict* ddict = deflated ? nullptr : ExpandDictionary(version);
  if (Dictionary(version).empty() || (!deflated && ddict == nullptr)) return NotFrozen(version);
  const uint32_t n = GetU32(stored.substr(5));
  if (n > kMaxStoredLeafBytes) {
    return Corrupt(absl::StrCat("claims ", n, " bytes, more than the ", kMaxStoredLeafBytes,
                                " a leaf may have"));
  }
  const absl::string_view payload = stored.substr(kHeaderBytes);
  std::string out;
  if (deflated) {
    out.resize(static_cast<size_t>(n) + 1);
    KINEX_RETURN_IF_ERROR(Inflate(payload, out));
  } else {
    // The packed leaf is at most 4 bytes longer than the canonical one (the
    // run count's varint; each run saves more than its header takes).
    std::string packed(static_cast<size_t>(n) + 5, '\0');
    KINEX_RETURN_IF_ERROR(Unzstd(payload, ddict, packed));
    // Only a "KXAR" leaf may name the entry's children.
    KINEX_ASSIGN_OR_RETURN(
        out, UnpackIdentifiers(packed, refers ? children : absl::Span<const std::string>()));
  }
  if (out.size() != n) {
    return Corrupt(absl::StrCat(deflated ? "inflates" : "decompresses", " to ", out.size(),
                                " bytes, not the ", n, " it claims"));
  }
  return out;
}

}  // namespace kinex::audit
