#!/usr/bin/env python3
"""Writes the source of the next audit leaf dictionary (services/audit/stored_leaf.h).

Dictionary 3 (services/audit/leaf_dictionary_v3.txt) was made once, from
the audit store of a running Kinex under kinex-bench's realistic workload:

    build/bin/kinex-bench --callers=64 --seconds=40 --rounds=1 --only=kinex &
    # once "running Kinex" is printed, 30 s in:
    sqlite3 /tmp/kinex-cluster-*/audit.db ".backup /tmp/audit-copy.db"
    python3 tools/audit/make_leaf_dictionary.py --version=3 /tmp/audit-copy.db \
        > services/audit/leaf_dictionary_v3.txt

and is frozen: leaves stored with it need exactly its bytes. This script is
kept to make the next dictionary the same way, not to remake dictionary 3
(the store it read is gone). Dictionary 2 was made by this script as of
d0d6e96, from audit_scale_bench's store.

Dictionary N is dictionary N-1's bytes (so every shape the earlier one
served stays served), then one template leaf of each of the --shapes most
common event shapes among the store's last --leaves leaves (the workload,
not the seeding that begins it). A shape is the event kind, decision, RPC
method and the principal's role (the last segment of its SPIFFE ID): the
policy gives a role the same paths, withheld categories and lawful-basis
tuples whichever agency holds it, give or take what each child's record
has. A template is the canonical encoding (services/audit/event_codec.h,
version 4) of a leaf of that shape with everything that names a child, a
request, a person or a moment blanked (leaf index and time zero; request
id, actor, justification, consent id, child pseudonyms, chain links,
idempotency key, record id, etag, query, policy version empty), and of the
blanked forms the one most leaves of the shape share (the first on a tie).
Templates go most common last, nearest the leaf being compressed.

Output lines: "s TEXT" is a string as the encoding writes it (u32 big-endian
length, then the bytes), "x HEX" raw bytes; "#" lines are comments. The
SHA-256 of the bytes goes to standard error, for stored_leaf.cc's pin.
"""
import argparse
import collections
import ctypes
import hashlib
import sqlite3
import struct
import sys
import zlib

ROOT = __file__.rsplit('/tools/', 1)[0]


class Reader:
    def __init__(self, data):
        self.data, self.pos, self.items = data, 0, []

    def raw(self, n, keep=True):
        b = self.data[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError('leaf cut short')
        self.pos += n
        self.items.append(('x', b if keep else bytes(n)))
        return b

    def u8(self):
        return self.raw(1)[0]

    def u32(self, keep=True):
        return struct.unpack('>I', self.raw(4, keep))[0]

    def i64(self, keep=True):
        return struct.unpack('>q', self.raw(8, keep))[0]

    def str(self, keep=True):
        n = struct.unpack('>I', self.data[self.pos:self.pos + 4])[0]
        text = self.data[self.pos + 4:self.pos + 4 + n]
        self.pos += 4 + n
        self.items.append(('s', text if keep else b''))
        return text

    def strs(self, keep=True):
        for _ in range(self.u32()):
            self.str(keep)


def template(leaf):
    """The items of a version-4 leaf, identifying values blanked."""
    r = Reader(leaf)
    if r.raw(5) != b'KXAE\x04':
        raise ValueError('not a version-4 leaf')
    r.raw(8, keep=False)  # leaf index
    r.raw(12, keep=False)  # time
    r.str(False), r.str()  # request_id, principal
    r.u32(), r.str(), r.str(False)  # agency_kind, agency_code, actor
    r.u32(), r.u32(), r.str(False), r.str(False)  # purpose, basis, consent, justification
    r.u8()  # break_glass
    decision = r.u32()
    r.strs()  # disclosed_paths
    for _ in range(r.u32()):  # withheld
        r.u32(), r.u32(), r.str()
    r.str(False)  # policy_version
    r.strs(False)  # child_pseudonyms
    method = r.str()
    kind = r.u32()
    r.strs()  # written_paths
    r.i64(False), r.str(False)  # part_version, part_etag
    r.str(), r.str(False), r.i64(False)  # refusal, query, result_count
    r.str(), r.str(False), r.str(False)  # subject_agency, idempotency_key, record_id
    for _ in range(r.u32()):  # child_chain
        r.str(False), r.i64(False)
    r.i64(False)  # previous_agency_leaf_index
    for _ in range(r.u32()):  # lawful_bases
        r.u32(), r.str(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
        for _ in range(r.u32()):
            r.u32()
        r.strs()
        r.str(), r.str(False)  # stated_function, consent_id
        for _ in range(r.u32()):
            r.u32()
    r.str(), r.u32(), r.u32()  # stated_function, sharing kind and reason
    r.strs()  # decision_paths
    r.u8()  # shield_locating
    for _ in range(r.u32()):  # notified
        r.u32(), r.str(), r.u32()
    r.strs(False)  # notification_ids
    r.u32()  # review_outcome
    if r.pos != len(leaf):
        raise ValueError('trailing bytes')
    return (kind, decision, method), r.items


def dictionary_source(version):
    return open('%s/services/audit/leaf_dictionary_v%d.txt' % (ROOT, version), 'rb').read()


def string_bytes(text):
    return struct.pack('>I', len(text)) + text


def dictionary_bytes(version):
    """Dictionary `version`'s bytes, as stored_leaf.cc reads its source."""
    return source_bytes(dictionary_source(version), version)


def source_bytes(source, version):
    """The bytes of a dictionary source (bytes) in `version`'s format."""
    out = b''
    for line in source.split(b'\n'):
        if not line:
            continue
        if version == 1:
            out += string_bytes(line)
        elif line.startswith(b's '):
            out += string_bytes(line[2:])
        elif line.startswith(b'x '):
            out += bytes.fromhex(line[2:].decode())
        elif not line.startswith(b'#'):
            raise ValueError('dictionary %d: bad line %r' % (version, line[:40]))
    return out


class Zstd:
    """Decompresses "KXAS" leaves: libzstd (Debian's libzstd1) by ctypes."""

    def __init__(self):
        self.lib = ctypes.CDLL('libzstd.so.1')
        self.lib.ZSTD_createDDict.restype = ctypes.c_void_p
        self.lib.ZSTD_createDDict.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.lib.ZSTD_createDCtx.restype = ctypes.c_void_p
        self.lib.ZSTD_decompress_usingDDict.restype = ctypes.c_size_t
        self.lib.ZSTD_decompress_usingDDict.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
            ctypes.c_void_p]
        self.lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        self.dctx = self.lib.ZSTD_createDCtx()
        self.ddicts = {}

    def decompress(self, version, payload, capacity):
        if version not in self.ddicts:
            d = dictionary_bytes(version)
            self.ddicts[version] = (d, self.lib.ZSTD_createDDict(d, len(d)))
        out = ctypes.create_string_buffer(capacity)
        n = self.lib.ZSTD_decompress_usingDDict(self.dctx, out, capacity, payload, len(payload),
                                                self.ddicts[version][1])
        if self.lib.ZSTD_isError(n):
            raise ValueError('a stored leaf does not decompress')
        return out.raw[:n]


def varint(data, at):
    v, shift = 0, 0
    while True:
        b = data[at]
        at += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, at


def unpack_identifiers(packed, children):
    """stored_leaf.h's packed form back to the canonical bytes; a run of half 0
    ("KXAR") is the entry's child pseudonym at the position that follows it."""
    count, at = varint(packed, 0)
    runs = []
    for _ in range(count):
        gap, at = varint(packed, at)
        half = packed[at]
        at += 1
        child = None
        if half == 0:
            position, at = varint(packed, at)
            child = children[position].encode()
        runs.append((gap, half, child))
    binary = sum(half for _, half, _ in runs)
    rest, digits = packed[at:len(packed) - binary], packed[len(packed) - binary:]
    out = b''
    for gap, half, child in runs:
        out += rest[:gap] + (child if half == 0 else digits[:half].hex().encode())
        rest, digits = rest[gap:], digits[half:]
    return out + rest


def expand(stored, zstd, children):
    """The canonical bytes of a stored leaf, in any of stored_leaf.h's forms;
    `children` are its entry's child pseudonyms, sorted (for "KXAR")."""
    if stored[:4] == b'KXAE':
        return stored
    length = struct.unpack('>I', stored[5:9])[0]
    if stored[:5] == b'KXAZ\x01':
        out = zlib.decompressobj(-15, zdict=dictionary_bytes(1)).decompress(stored[9:])
    elif stored[:4] == b'KXAS':
        out = unpack_identifiers(zstd.decompress(stored[4], stored[9:], length + 5), [])
    elif stored[:5] == b'KXAR\x03':
        out = unpack_identifiers(zstd.decompress(3, stored[9:], length + 5), children)
    else:
        raise ValueError('unknown stored form %r' % stored[:5])
    if len(out) != length:
        raise ValueError('a stored leaf expands to the wrong length')
    return out


def role(leaf):
    """The last segment of the leaf's principal (after the request id)."""
    at = 25 + 4 + struct.unpack('>I', leaf[25:29])[0]
    n = struct.unpack('>I', leaf[at:at + 4])[0]
    return leaf[at + 4:at + 4 + n].rsplit(b'/', 1)[-1]


def render(items):
    return b''.join(v if t == 'x' else string_bytes(v) for t, v in items)


def item_lines(items):
    """Source lines of a template: strings as "s", raw runs as "x"."""
    lines, run = [], b''
    for t, v in items:
        if t == 'x':
            run += v
            continue
        if run:
            lines.append('x ' + run.hex())
            run = b''
        lines.append('s ' + v.decode())
    if run:
        lines.append('x ' + run.hex())
    return lines


def main():
    flags = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    flags.add_argument('--version', type=int, required=True, help='the dictionary to make (>= 3)')
    flags.add_argument('--leaves', type=int, default=20000, help='the store\'s last N leaves')
    flags.add_argument('--shapes', type=int, default=10, help='templates to add')
    flags.add_argument('store', help='a copy of a Kinex SQLite audit store')
    args = flags.parse_args()
    if args.version < 3:
        raise SystemExit('dictionaries 1 and 2 are frozen; make --version=3 or later')
    zstd = Zstd()
    db = sqlite3.connect('file:%s?mode=ro' % args.store, uri=True)
    counts = collections.Counter()
    variants = collections.defaultdict(collections.Counter)
    items_of = {}
    # Each leaf with its entry's child pseudonyms, from the query index.
    for (stored, children) in db.execute(
            'SELECT e.leaf_data, (SELECT group_concat(c.pseudonym, \',\') FROM '
            'audit_entry_child_sets s JOIN audit_child_set_members m ON m.set_id = s.set_id '
            'JOIN audit_children c ON c.child_id = m.child_id WHERE s.leaf_index = e.leaf_index) '
            'FROM audit_entries e ORDER BY e.leaf_index DESC LIMIT ?', (args.leaves,)):
        leaf = expand(stored, zstd, sorted(children.split(',')) if children else [])
        (kind, decision, method), items = template(leaf)
        shape = (kind, decision, method.decode() or '-', role(leaf).decode())
        blanked = render(items)
        counts[shape] += 1
        variants[shape][blanked] += 1
        items_of.setdefault(blanked, items)
    previous = dictionary_source(args.version - 1).decode()
    lines = [
        '# Audit leaf dictionary %d source: made by tools/audit/make_leaf_dictionary.py'
        % args.version,
        '# (see there); frozen. "s TEXT": a string as the canonical encoding writes',
        '# it; "x HEX": raw bytes. Dictionary %d\'s bytes, then template leaves.'
        % (args.version - 1),
        '# --- dictionary %d ---' % (args.version - 1),
    ]
    for line in previous.split('\n'):
        if line and not line.startswith('#'):
            lines.append(('s ' + line) if args.version - 1 == 1 else line)
    lines.append('# --- the %d most common shapes of the last %d leaves, most common last ---'
                 % (args.shapes, args.leaves))
    for shape in sorted(counts, key=counts.get)[-args.shapes:]:
        blanked, n = variants[shape].most_common(1)[0]
        lines.append('# template: kind %d, decision %d, method %s, role %s: %d leaves, '
                     '%d with this form' % (shape + (counts[shape], n)))
        lines.extend(item_lines(items_of[blanked]))
    text = '\n'.join(lines) + '\n'
    sys.stdout.write(text)
    made = source_bytes(text.encode(), args.version)
    sys.stderr.write('dictionary %d: %d bytes (%d of dictionary %d, then the templates), '
                     'SHA-256 %s\n' % (args.version, len(made),
                                        len(dictionary_bytes(args.version - 1)),
                                        args.version - 1, hashlib.sha256(made).hexdigest()))


if __name__ == '__main__':
    main()
