// LeafSet: a fixed-size bitset over the leaf fields of a Schema (see
// schema.h). Policy evaluation works on these sets: what rules grant, deny,
// what needs a basis, what is visible.
//
// Example:
//   LeafSet granted(schema.leaf_count());
//   granted.SetRange(path.leaf_begin, path.leaf_end);
//   granted.AndNot(denied);
#ifndef KINEX_SERVICES_POLICY_LEAF_SET_H_
#define KINEX_SERVICES_POLICY_LEAF_SET_H_

#include <cstdint>
#include <vector>

namespace kinex::policy {

// A set of leaf indices in [0, size). Value type; not thread-safe for
// concurrent mutation (concurrent reads are fine).
class LeafSet {
 public:
  LeafSet() = default;
  explicit LeafSet(int size) : size_(size), words_((size + 63) / 64, 0) {}

  int size() const { return size_; }
  void Set(int i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  bool Test(int i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  // Sets every index in [begin, end).
  void SetRange(int begin, int end) {
    for (int i = begin; i < end; ++i) Set(i);
  }
  // Whether every index in [begin, end) is set.
  bool AllInRange(int begin, int end) const {
    for (int i = begin; i < end; ++i) {
      if (!Test(i)) return false;
    }
    return true;
  }
  // Whether any index in [begin, end) is set.
  bool AnyInRange(int begin, int end) const {
    for (int i = begin; i < end; ++i) {
      if (Test(i)) return true;
    }
    return false;
  }
  bool Any() const {
    for (uint64_t w : words_) {
      if (w != 0) return true;
    }
    return false;
  }
  bool Intersects(const LeafSet& o) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      if ((words_[i] & o.words_[i]) != 0) return true;
    }
    return false;
  }
  LeafSet& operator|=(const LeafSet& o) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] |= o.words_[i];
    return *this;
  }
  LeafSet& operator&=(const LeafSet& o) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] &= o.words_[i];
    return *this;
  }
  // Removes every index set in `o`.
  LeafSet& AndNot(const LeafSet& o) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] &= ~o.words_[i];
    return *this;
  }
  friend LeafSet operator&(LeafSet a, const LeafSet& b) { return a &= b; }
  friend LeafSet operator|(LeafSet a, const LeafSet& b) { return a |= b; }
  bool operator==(const LeafSet& o) const { return size_ == o.size_ && words_ == o.words_; }

 private:
  int size_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_LEAF_SET_H_
