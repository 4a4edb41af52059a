#!/usr/bin/env python3
"""Writes the source of an audit leaf dictionary (services/audit/stored_leaf.h).

Dictionary 2 (services/audit/leaf_dictionary_v2.txt) was made once with

    build/bin/audit_scale_bench --entries=50000 --report_at=25000 --dir=/tmp/d --keep
    python3 tools/audit/make_leaf_dictionary.py /tmp/d/audit.db > leaf_dictionary_v2.txt

and is frozen: leaves stored with it need exactly its bytes. This script is
kept to make the next dictionary the same way, not to remake dictionary 2.

The dictionary is dictionary 1's strings, then one template leaf of each
event shape the store holds most of (whole-record disclosure, denial, part
published, audit query): the canonical encoding (services/audit/event_codec.h,
version 4) of a real leaf of that shape with everything that names a child,
a request, a person or a moment blanked (leaf index and time zero; request id,
actor, justification, consent id, child pseudonyms, chain links, idempotency
key, record id, etag, query, policy version empty). What stays is what every
leaf of the shape repeats: the field layout, method, principal, paths,
withheld categories and lawful-basis tuples with their citations.

Output lines: "s TEXT" is a string as the encoding writes it (u32 big-endian
length, then the bytes), "x HEX" raw bytes; "#" lines are comments.
"""
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


def dictionary1():
    out = b''
    for line in open(ROOT + '/services/audit/leaf_dictionary_v1.txt', 'rb').read().split(b'\n'):
        if line:
            out += struct.pack('>I', len(line)) + line
    return out


def expand(stored, d1):
    if stored[:4] == b'KXAE':
        return stored
    if stored[:5] != b'KXAZ\x01':
        raise ValueError('not a dictionary-1 leaf')
    return zlib.decompressobj(-15, zdict=d1).decompress(stored[9:])


def main():
    d1 = dictionary1()
    db = sqlite3.connect('file:%s?mode=ro' % sys.argv[1], uri=True)
    counts, first = {}, {}
    for (stored,) in db.execute('SELECT leaf_data FROM audit_entries ORDER BY leaf_index LIMIT 20000'):
        leaf = expand(stored, d1)
        key, items = template(leaf)  # shape: kind, decision, method
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, items)
    print('# Audit leaf dictionary source: made by tools/audit/make_leaf_dictionary.py')
    print('# (see there); frozen. "s TEXT": a string as the canonical encoding writes')
    print('# it; "x HEX": raw bytes. Dictionary 1\'s strings, then template leaves.')
    for line in open(ROOT + '/services/audit/leaf_dictionary_v1.txt').read().split('\n'):
        if line:
            print('s ' + line)
    # The four most common shapes, most common last (nearest the leaf).
    for key in sorted(counts, key=counts.get)[-4:]:
        print('# template: kind %d, decision %d, method %s: %d of the first 20,000 leaves'
              % (key[0], key[1], key[2].decode() or '-', counts[key]))
        run = b''
        for t, v in first[key]:
            if t == 'x':
                run += v
                continue
            if run:
                print('x ' + run.hex())
                run = b''
            print('s ' + v.decode())
        if run:
            print('x ' + run.hex())


if __name__ == '__main__':
    main()
