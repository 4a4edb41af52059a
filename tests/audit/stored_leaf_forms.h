// Leaves in the stored forms this build reads but no longer writes
// (services/audit/stored_leaf.h): what a store from before dictionary 2 or
// before dictionary 3 holds, made the way those builds made them. For
// tests of reading, and of upgrading, older stores.
#ifndef KINEX_TESTS_AUDIT_STORED_LEAF_FORMS_H_
#define KINEX_TESTS_AUDIT_STORED_LEAF_FORMS_H_

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "services/audit/stored_leaf.h"

namespace kinex::audit::testing {

// The 9-byte header: magic, dictionary, canonical length big-endian.
inline std::string StoredLeafHeader(absl::string_view magic, int dictionary,
                                    absl::string_view canonical) {
  const auto n = static_cast<uint32_t>(canonical.size());
  std::string out(magic);
  out.push_back(static_cast<char>(dictionary));
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(n >> shift));
  return out;
}

// `canonical` as a store from before dictionary 2 holds it: "KXAZ" 1, its
// length, then deflate (level 3) with dictionary 1 as the preset dictionary.
inline std::string StoredWithDictionaryOne(absl::string_view canonical) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 3, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  const absl::string_view d = LeafDictionary(1);
  EXPECT_EQ(deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()),
                                 static_cast<uInt>(d.size())),
            Z_OK);
  std::string out = StoredLeafHeader("KXAZ", 1, canonical);
  out.resize(9 + canonical.size());
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(canonical.data()));
  z.avail_in = static_cast<uInt>(canonical.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + 9);
  z.avail_out = static_cast<uInt>(out.size() - 9);
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(9 + z.total_out);
  deflateEnd(&z);
  return out;
}

// `canonical` as a store from before dictionary 3 holds it: "KXAS" 2, its
// length, then one zstd frame (level 3, no checksum, dictionary id or
// content size) of the packed leaf with dictionary 2 as raw content.
inline std::string StoredWithDictionaryTwo(absl::string_view canonical) {
  const absl::string_view d = LeafDictionary(2);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_loadDictionary(cctx, d.data(), d.size())));
  for (ZSTD_cParameter p : {ZSTD_c_contentSizeFlag, ZSTD_c_checksumFlag, ZSTD_c_dictIDFlag}) {
    EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, p, 0)));
  }
  const std::string packed = PackIdentifiers(canonical);
  std::string out = StoredLeafHeader("KXAS", 2, canonical);
  out.resize(9 + ZSTD_compressBound(packed.size()));
  const size_t written =
      ZSTD_compress2(cctx, out.data() + 9, out.size() - 9, packed.data(), packed.size());
  EXPECT_FALSE(ZSTD_isError(written));
  ZSTD_freeCCtx(cctx);
  out.resize(9 + written);
  return out;
}

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_STORED_LEAF_FORMS_H_
