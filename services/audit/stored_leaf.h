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
//           | "KXAR" 0x03 u32 length zstd(packed)
//                                                every leaf written now that
//                                                names a child: one zstd
//                                                frame (RFC 8878, no
//                                                checksum, dictionary id or
//                                                content size) with
//                                                dictionary 3 as raw
//                                                content, its child
//                                                pseudonyms referred to
//                                                (below)
//           | "KXAS" 0x03 u32 length zstd(packed)
//                                                every other leaf written
//                                                now, and those that named
//                                                a child before schema
//                                                version 11: the same with
//                                                no references
//           | "KXAS" 0x02 u32 length zstd(packed)
//                                                leaves written before
//                                                dictionary 3 (read, never
//                                                written): the same with
//                                                dictionary 2
//           | "KXAZ" 0x01 u32 length raw-deflate(canonical)
//                                                leaves written before
//                                                dictionary 2 (read, never
//                                                written): RFC 1951 with
//                                                dictionary 1 as the preset
//                                                dictionary
//
// length is the canonical bytes', big-endian. "KXAZ" goes with dictionary 1
// only, "KXAS" with 2 or 3, "KXAR" with 3; any other pairing is DATA_LOSS.
//
// packed is the canonical bytes with their identifiers as binary: every
// string the encoding writes as a u32 length of 16 to 128 (even) followed by
// that many lower-case hex digits (child pseudonyms, chain links, the policy
// version, a hex request id) loses its digits, which follow the rest in
// binary, half the size:
//
//   packed := varint n                 runs, in order
//             n x (varint gap, u8 half[, varint child])
//                                       gap: canonical bytes since the end
//                                       of the previous run (or the start);
//                                       half: the run's digits / 2, or 0
//                                       ("KXAR" only) for a run that is the
//                                       entry's child pseudonym number
//                                       `child` (below)
//             rest                      the canonical bytes outside the runs
//             each run's digits as bytes, half of them, for every run of
//             half > 0
//
// A "KXAR" leaf is stored with the sorted, distinct child pseudonyms of its
// entry (NewEntry::child_pseudonyms): a run that is one of them is stored as
// its position there, a byte or two instead of 32. The store keeps those
// pseudonyms in its query index (the entry's set of children and their
// numbers, audit_children) and gives them back to ExpandLeaf. The index is
// then part of what rebuilds the canonical bytes, never a second authority:
// an edit of it makes the leaf expand to bytes whose hash is not the one the
// tree and the signed heads commit to, and every read checks that hash.
//
// Varints are little-endian base 128, at most 4 bytes. zstd codes hex
// digits as literals at about 5 bits each; the binary takes 4, and a
// pseudonym's second appearance (its chain link) is a match either way: on
// the realistic mix a whole-record disclosure stores 45 bytes smaller.
//
// Dictionary 1 is services/audit/leaf_dictionary_v1.txt: each line, in file
// order, as the canonical encoding writes a string (u32 big-endian byte
// length, then the bytes). Its lines are what most leaves repeat: RPC method
// names, declared roles, the lawful-basis citations and every leaf path of
// kinex.record.v1.ChildRecord (sorted) when it was made.
//
// Dictionary 2 is services/audit/leaf_dictionary_v2.txt: "s TEXT" lines are
// strings as above, "x HEX" lines raw bytes, "#" lines comments. It is
// dictionary 1's strings, then four template leaves (a whole-record
// disclosure, a denial, a part published, an audit query: the shapes a
// store holds most of), each the canonical encoding of a real leaf with
// everything that names a child, a request, a person or a moment blanked
// (tools/audit/make_leaf_dictionary.py, which made it). A leaf of a template's
// shape is then a few long matches around its own identifiers, so what is
// stored is mostly the pseudonyms, request id and policy version.
//
// Dictionary 3 is services/audit/leaf_dictionary_v3.txt, in dictionary 2's
// format: dictionary 2's bytes, then ten template leaves made the same way
// from the audit store of a running Kinex (kinex-bench's realistic
// workload): its ten most common event shapes, each a disclosure to one
// role (social worker, virtual school head, designated safeguarding lead,
// health practitioner, public protection officer) by GetChildRecord or
// ListChildren. Dictionary 2's templates are the scale benchmark's shapes,
// which the product's policy does not produce (it gives no role the whole
// record); with dictionary 3 the product's disclosures store about a third
// smaller (bench/load/README.md).
//
// All three are frozen: leaves stored with a dictionary need exactly its
// bytes (stored_leaf_test pins their SHA-256, and the store refuses to use
// a dictionary whose digest differs). A better dictionary gets a new
// number; every earlier one stays readable. None holds anything about any
// child.
//
// A whole-record disclosure of 8.8 KB is stored in about 290 bytes
// (bench/audit/README.md). Expanding is bounded: a stored leaf that claims
// more than kMaxStoredLeafBytes, names an unknown dictionary, or does not
// expand to exactly its length is DATA_LOSS (the store is corrupt or was
// edited; the hash check would refuse it anyway).
//
// Example:
//   std::string stored = CompressLeaf(canonical, pseudonyms);
//   KINEX_ASSIGN_OR_RETURN(std::string back, ExpandLeaf(stored, pseudonyms));  // == canonical
#ifndef KINEX_SERVICES_AUDIT_STORED_LEAF_H_
#define KINEX_SERVICES_AUDIT_STORED_LEAF_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kinex::audit {

// Whether `stored` is a "KXAR" leaf: one ExpandLeaf needs its entry's
// child pseudonyms for.
bool LeafRefersToChildren(absl::string_view stored);

// The largest canonical leaf a compressed stored leaf may expand to.
inline constexpr size_t kMaxStoredLeafBytes = 64 << 20;

// The stored form of `canonical`: compressed with zstd and dictionary 3
// when that is smaller, else `canonical` itself. Runs that are one of
// `children` (sorted, distinct: the entry's child pseudonyms) are stored as
// references ("KXAR"). Thread-safe.
std::string CompressLeaf(absl::string_view canonical, absl::Span<const std::string> children = {});

// The canonical bytes of a stored leaf (any form); `children` are the
// pseudonyms it was compressed with (a "KXAR" leaf needs them; one that
// names a position past their end is DATA_LOSS with reason
// AUDIT_INDEX_TAMPERED: the index that gave them back was edited).
// Thread-safe.
absl::StatusOr<std::string> ExpandLeaf(absl::string_view stored,
                                       absl::Span<const std::string> children = {});

// The runs PackIdentifiers takes: strings of this many lower-case hex
// digits (even).
inline constexpr size_t kMinIdentifierRun = 16;
inline constexpr size_t kMaxIdentifierRun = 128;

// `canonical` packed as above (what "KXAS" and "KXAR" compress): any bytes
// up to kMaxStoredLeafBytes, runs that are one of `children` (sorted,
// distinct) as references.
std::string PackIdentifiers(absl::string_view canonical,
                            absl::Span<const std::string> children = {});

// The bytes PackIdentifiers packed with `children`; DATA_LOSS for anything
// it cannot have made (a count, gap or run length out of range, a reference
// past the children's end, runs past the end).
absl::StatusOr<std::string> UnpackIdentifiers(absl::string_view packed,
                                              absl::Span<const std::string> children = {});

// The bytes of dictionary `version` (1, 2 or 3), as the compressor is given
// them; empty for an unknown version. For tests and benchmarks.
absl::string_view LeafDictionary(int version);

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_STORED_LEAF_H_
