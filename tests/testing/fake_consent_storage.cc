#include "tests/testing/fake_consent_storage.h"

#include <algorithm>
#include <tuple>

#include "services/common/status_macros.h"

namespace kinex::consent {
namespace {

namespace cv1 = kinex::consent::v1;

class FakeTxn final : public ConsentTxn {
 public:
  explicit FakeTxn(FakeConsentStorage::State& s) : s_(s) {}

  absl::Status InsertEntry(const cv1::ConsentEntry& e) override {
    if (!s_.entries.emplace(e.consent_id(), e).second) {
      return absl::AbortedError("concurrent update; retry (entry exists)");
    }
    return absl::OkStatus();
  }
  absl::Status UpdateEntry(const cv1::ConsentEntry& e) override {
    auto it = s_.entries.find(e.consent_id());
    if (it == s_.entries.end()) {
      return absl::NotFoundError("no consent entry with that consent_id");
    }
    it->second = e;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<cv1::ConsentEntry>> GetEntry(
      const std::string& consent_id) override {
    auto it = s_.entries.find(consent_id);
    if (it == s_.entries.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntries(const std::string& kinex_id,
                                                             const std::string& after_id,
                                                             int limit) override {
    std::vector<cv1::ConsentEntry> out;
    for (auto it = s_.entries.upper_bound(after_id);
         it != s_.entries.end() && static_cast<int>(out.size()) < limit; ++it) {
      if (it->second.kinex_id() == kinex_id) out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<std::vector<cv1::ConsentEntry>> ListEntriesInForce(const std::string& kinex_id,
                                                                    absl::Time now) override {
    std::vector<cv1::ConsentEntry> out;
    for (const auto& [id, e] : s_.entries) {
      if (e.kinex_id() == kinex_id && InForce(e, now)) out.push_back(e);
    }
    return out;
  }
  absl::Status InsertAgreement(const cv1::SharingAgreement& a) override {
    if (!s_.agreements.emplace(a.agreement_id(), a).second) {
      return absl::AbortedError("concurrent update; retry (agreement exists)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<cv1::SharingAgreement>> ListAgreements() override {
    std::vector<cv1::SharingAgreement> out;
    for (const auto& [id, a] : s_.agreements) out.push_back(a);
    return out;
  }
  absl::Status InsertPendingEvent(const PendingAuditEvent& e) override {
    if (!s_.outbox.emplace(e.idempotency_key, e).second) {
      return absl::AbortedError("concurrent update; retry (pending event exists)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<PendingAuditEvent>> ListPendingEvents(int limit) override {
    std::vector<PendingAuditEvent> out;
    for (const auto& [key, e] : s_.outbox) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.enqueue_time, a.idempotency_key) <
             std::tie(b.enqueue_time, b.idempotency_key);
    });
    if (static_cast<int>(out.size()) > limit) out.resize(std::max(limit, 0));
    return out;
  }
  absl::Status DeletePendingEvent(const std::string& key) override {
    s_.outbox.erase(key);
    return absl::OkStatus();
  }

 private:
  FakeConsentStorage::State& s_;
};

}  // namespace

absl::Status FakeConsentStorage::Transact(const std::function<absl::Status(ConsentTxn&)>& fn) {
  return state_.Transact([&](State& s) {
    FakeTxn txn(s);
    return fn(txn);
  });
}

size_t FakeConsentStorage::EntryCount() const {
  return state_.Read([](const State& s) { return s.entries.size(); });
}

size_t FakeConsentStorage::PendingEventCount() const {
  return state_.Read([](const State& s) { return s.outbox.size(); });
}

}  // namespace kinex::consent
