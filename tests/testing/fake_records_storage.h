// Test doubles for RecordsStorage: FakeRecordsStorage (a working in-memory
// version, transactional by copy-on-write) and FailingRecordsStorage (every
// transaction fails UNAVAILABLE, to prove callers fail closed).
//
// Example:
//   FakeRecordsStorage storage;
//   auto core = RecordsCore::Create({.storage = &storage, .clock = &clock});
#ifndef KINEX_TESTS_TESTING_FAKE_RECORDS_STORAGE_H_
#define KINEX_TESTS_TESTING_FAKE_RECORDS_STORAGE_H_

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "services/common/copy_on_write_state.h"
#include "services/records/records_storage.h"

namespace kinex::records {

// In-memory RecordsStorage. Thread-safe: one transaction at a time; a
// transaction works on a copy that replaces the state only on success.
class FakeRecordsStorage final : public RecordsStorage {
 public:
  absl::Status Transact(const std::function<absl::Status(RecordsTxn&)>& fn) override;

  // Number of children stored (for tests asserting nothing was left behind).
  size_t ChildCount() const;

  struct State {
    std::map<std::string, absl::Time> children;
    std::map<std::pair<int, std::string>, std::string> identifiers;
    // (kinex id, owner kind, owner code) -> versions, oldest first.
    std::map<std::tuple<std::string, int, std::string>, std::vector<StoredPart>> parts;
    std::set<std::tuple<int, std::string, std::string>> links;  // (kind, code, id)
    std::map<std::string, std::string> responsible_la;          // kinex id -> LA code
    // (kinex id, agency kind, agency code) -> link.
    std::map<std::tuple<std::string, int, std::string>, StoredLink> agency_links;
    std::vector<PendingAuditEvent> outbox;  // oldest first
    // decision id -> sharing decision.
    std::map<std::string, StoredSharingDecision> decisions;
    // (key kind, code) -> published calendar.
    std::map<std::pair<int, std::string>, StoredCalendar> calendars;
  };

  // Number of audit events waiting in the outbox (for tests).
  size_t PendingAuditEventCount() const;

 private:
  CopyOnWriteState<State> state_;
};

// A RecordsStorage whose every transaction fails UNAVAILABLE. Thread-safe.
class FailingRecordsStorage final : public RecordsStorage {
 public:
  absl::Status Transact(const std::function<absl::Status(RecordsTxn&)>& fn) override {
    return absl::UnavailableError("records storage unavailable (failing fake)");
  }
};

}  // namespace kinex::records

#endif  // KINEX_TESTS_TESTING_FAKE_RECORDS_STORAGE_H_
