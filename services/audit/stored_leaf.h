// How the log's SQL store keeps a leaf on disk: its canonical encoding
// (event_codec.h) as it is, or that encoding compressed. The stored form is
// private to the store: the Merkle leaf, its hash, GetEntries, receipts and
// every verifier see the canonical bytes only, so nothing an auditor or an
// offline verifier checks changes.
//
//   stored := canonical                          begins "KXAE" (every leaf
//                                                written before schema
//                                                version 4, and any leaf
//                                                compression does not shrink)
//           | "KXAZ" u8 dictionary u32 length    length: of the canonical
//             raw-deflate(canonical)             bytes, big-endian; RFC 1951
//                                                with the dictionary as the
//                                                preset dictionary
//
// Dictionary 1 is services/audit/leaf_dictionary_v1.txt: each line, in file order,
// as the canonical encoding writes a string (u32 big-endian byte length, then
// the bytes), so a whole-record disclosure's sorted paths match it in long
// runs. Its lines are what most leaves repeat: RPC method names, declared
// roles, the lawful-basis citations and every leaf path of
// kinex.record.v1.ChildRecord (sorted) when it was made; nothing about any
// child. It is frozen: leaves stored with dictionary 1 need exactly these
// bytes (stored_leaf_test pins their SHA-256, and the store refuses to use a
// dictionary whose digest differs). A better dictionary gets a new number;
// every earlier one stays readable.
//
// A whole-record disclosure of 7.2 KB is stored in about 500 bytes
// (bench/audit/README.md). Expanding is bounded: a stored leaf that claims
// more than kMaxStoredLeafBytes, names an unknown dictionary, or does not
// inflate to exactly its length is DATA_LOSS (the store is corrupt or was
// edited; the hash check would refuse it anyway).
//
// Example:
//   std::string stored = CompressLeaf(canonical);
//   KINEX_ASSIGN_OR_RETURN(std::string back, ExpandLeaf(stored));  // == canonical
#ifndef KINEX_SERVICES_AUDIT_STORED_LEAF_H_
#define KINEX_SERVICES_AUDIT_STORED_LEAF_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kinex::audit {

// The largest canonical leaf a compressed stored leaf may expand to.
inline constexpr size_t kMaxStoredLeafBytes = 64 << 20;

// The stored form of `canonical`: compressed with the newest dictionary
// when that is smaller, else `canonical` itself. Thread-safe.
std::string CompressLeaf(absl::string_view canonical);

// The canonical bytes of a stored leaf (either form). Thread-safe.
absl::StatusOr<std::string> ExpandLeaf(absl::string_view stored);

// The bytes of dictionary `version` (1), as deflate's preset dictionary;
// empty for an unknown version. For tests and benchmarks.
absl::string_view LeafDictionary(int version);

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_STORED_LEAF_H_
