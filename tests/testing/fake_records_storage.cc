#include "tests/testing/fake_records_storage.h"

#include <algorithm>

#include "services/common/status_macros.h"

namespace kinex::records {
namespace {

class FakeTxn final : public RecordsTxn {
 public:
  explicit FakeTxn(FakeRecordsStorage::State& s) : s_(s) {}

  absl::StatusOr<bool> ChildExists(const std::string& kinex_id) override {
    return s_.children.count(kinex_id) > 0;
  }

  absl::Status LockChild(const std::string&) override { return absl::OkStatus(); }

  absl::Status CreateChild(const std::string& kinex_id, absl::Time t) override {
    if (!s_.children.emplace(kinex_id, t).second) {
      return absl::AbortedError("concurrent update; retry (child exists)");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> FindChild(IdentifierKind kind,
                                                       const std::string& value) override {
    auto it = s_.identifiers.find({static_cast<int>(kind), value});
    if (it == s_.identifiers.end()) return std::nullopt;
    return it->second;
  }

  absl::Status AddIdentifier(IdentifierKind kind, const std::string& value,
                             const std::string& kinex_id) override {
    if (!s_.children.count(kinex_id)) {
      return absl::AbortedError("concurrent update; retry (no such child)");
    }
    auto [it, inserted] =
        s_.identifiers.emplace(std::make_pair(static_cast<int>(kind), value), kinex_id);
    if (!inserted && it->second != kinex_id) {
      return absl::AbortedError("identifier already linked to another child");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<StoredPart>> LatestPart(const std::string& kinex_id, int owner_kind,
                                                       const std::string& owner_code) override {
    auto it = s_.parts.find({kinex_id, owner_kind, owner_code});
    if (it == s_.parts.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
  }

  absl::Status InsertPart(const StoredPart& part) override {
    if (!s_.children.count(part.kinex_id)) {
      return absl::AbortedError("concurrent update; retry (no such child)");
    }
    auto& versions = s_.parts[{part.kinex_id, part.owner_kind, part.owner_code}];
    const int64_t latest = versions.empty() ? 0 : versions.back().version;
    if (part.version != latest + 1) {
      return absl::AbortedError("part changed concurrently; retry");
    }
    versions.push_back(part);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredPart>> LatestParts(const std::string& kinex_id) override {
    std::vector<StoredPart> out;
    for (auto it = s_.parts.lower_bound({kinex_id, 0, ""});
         it != s_.parts.end() && std::get<0>(it->first) == kinex_id; ++it) {
      if (!it->second.empty()) out.push_back(it->second.back());
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredPart>> PartHistory(const std::string& kinex_id, int owner_kind,
                                                      int64_t offset, int limit) override {
    std::vector<StoredPart> all;
    for (auto it = s_.parts.lower_bound({kinex_id, 0, ""});
         it != s_.parts.end() && std::get<0>(it->first) == kinex_id; ++it) {
      if (owner_kind != 0 && std::get<1>(it->first) != owner_kind) continue;
      all.insert(all.end(), it->second.begin(), it->second.end());
    }
    std::stable_sort(all.begin(), all.end(), [](const StoredPart& a, const StoredPart& b) {
      return std::tie(a.publish_time, a.owner_kind, a.owner_code, a.version) <
             std::tie(b.publish_time, b.owner_kind, b.owner_code, b.version);
    });
    std::vector<StoredPart> out;
    for (int64_t i = offset;
         i < static_cast<int64_t>(all.size()) && static_cast<int>(out.size()) < limit; ++i) {
      out.push_back(all[i]);
    }
    return out;
  }

  absl::Status ReplaceScopeLinks(const std::string& kinex_id,
                                 const std::vector<ScopeLink>& links) override {
    for (auto it = s_.links.begin(); it != s_.links.end();) {
      it = std::get<2>(*it) == kinex_id ? s_.links.erase(it) : std::next(it);
    }
    for (const ScopeLink& l : links) s_.links.emplace(l.agency_kind, l.code, kinex_id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ChildrenInScope(const std::vector<int>& agency_kinds,
                                                           const std::string& code,
                                                           const std::string& after_kinex_id,
                                                           int limit) override {
    std::set<std::string> ids;
    for (int kind : agency_kinds) {
      for (auto it = s_.links.upper_bound({kind, code, after_kinex_id});
           it != s_.links.end() && std::get<0>(*it) == kind && std::get<1>(*it) == code; ++it) {
        ids.insert(std::get<2>(*it));
      }
    }
    std::vector<std::string> out;
    for (const std::string& id : ids) {
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(id);
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> ResponsibleLa(const std::string& kinex_id) override {
    auto it = s_.responsible_la.find(kinex_id);
    if (it == s_.responsible_la.end()) return std::nullopt;
    return it->second;
  }

  absl::Status SetResponsibleLa(const std::string& kinex_id, const std::string& la_code,
                                absl::Time) override {
    if (!s_.children.count(kinex_id)) {
      return absl::AbortedError("concurrent update; retry (no such child)");
    }
    s_.responsible_la[kinex_id] = la_code;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredLink>> Links(const std::string& kinex_id) override {
    std::vector<StoredLink> out;
    for (auto it = s_.agency_links.lower_bound({kinex_id, 0, ""});
         it != s_.agency_links.end() && std::get<0>(it->first) == kinex_id; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  absl::Status PutLink(const StoredLink& link) override {
    if (!s_.children.count(link.kinex_id)) {
      return absl::AbortedError("concurrent update; retry (no such child)");
    }
    s_.agency_links[{link.kinex_id, link.agency_kind, link.agency_code}] = link;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredLink>> LinksOfLa(const std::string& la_code, int state,
                                                    const std::string& after_kinex_id,
                                                    int after_kind, const std::string& after_code,
                                                    int limit) override {
    std::vector<StoredLink> out;
    for (auto it = s_.agency_links.upper_bound({after_kinex_id, after_kind, after_code});
         it != s_.agency_links.end() && static_cast<int>(out.size()) < limit; ++it) {
      const StoredLink& l = it->second;
      auto la = s_.responsible_la.find(l.kinex_id);
      if (la == s_.responsible_la.end() || la->second != la_code) continue;
      if (state != 0 && static_cast<int>(l.state) != state) continue;
      out.push_back(l);
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredPart>> LatestPartsOfResponsibleLa(
      int owner_kind, const std::string& after_kinex_id, int limit) override {
    std::vector<StoredPart> out;
    for (auto it = s_.responsible_la.upper_bound(after_kinex_id);
         it != s_.responsible_la.end() && static_cast<int>(out.size()) < limit; ++it) {
      auto part = s_.parts.find({it->first, owner_kind, it->second});
      if (part == s_.parts.end() || part->second.empty()) continue;
      out.push_back(part->second.back());
    }
    return out;
  }

  absl::Status InsertSharingDecision(const StoredSharingDecision& d) override {
    if (!s_.children.count(d.kinex_id)) {
      return absl::AbortedError("concurrent update; retry (no such child)");
    }
    if (!s_.decisions.emplace(d.decision_id, d).second) {
      return absl::AbortedError("concurrent update; retry (decision exists)");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<StoredSharingDecision>> SharingDecision(
      const std::string& decision_id) override {
    auto it = s_.decisions.find(decision_id);
    if (it == s_.decisions.end()) return std::nullopt;
    return it->second;
  }

  absl::Status RemoveSharingDecision(const std::string& decision_id,
                                     const std::string& payload) override {
    auto it = s_.decisions.find(decision_id);
    if (it == s_.decisions.end() || it->second.removed) {
      return absl::AbortedError("decision changed concurrently; retry");
    }
    it->second.removed = true;
    it->second.payload = payload;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredSharingDecision>> ShieldsInForce(
      const std::string& kinex_id) override {
    std::vector<StoredSharingDecision> out;
    for (const auto& [id, d] : s_.decisions) {
      if (d.kinex_id == kinex_id && d.kind == kShieldDecisionKind && !d.removed) {
        out.push_back(d);
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredSharingDecision>> ListSharingDecisions(
      const SharingDecisionFilter& f) override {
    std::vector<StoredSharingDecision> all;
    for (const auto& [id, d] : s_.decisions) {
      if (!f.all) {
        auto la = s_.responsible_la.find(d.kinex_id);
        const bool own = d.decider_kind == f.decider_kind && d.decider_code == f.decider_code;
        const bool responsible = !f.responsible_la.empty() && la != s_.responsible_la.end() &&
                                 la->second == f.responsible_la;
        if (!own && !responsible) continue;
      }
      if (!f.kinex_id.empty() && d.kinex_id != f.kinex_id) continue;
      if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), d.kind) == f.kinds.end()) {
        continue;
      }
      if (!f.include_removed && d.removed) continue;
      if (f.after.has_value() &&
          !(std::tie(d.decided_at, d.decision_id) < std::tie(f.after->first, f.after->second))) {
        continue;
      }
      all.push_back(d);
    }
    std::sort(
        all.begin(), all.end(), [](const StoredSharingDecision& a, const StoredSharingDecision& b) {
          return std::tie(a.decided_at, a.decision_id) > std::tie(b.decided_at, b.decision_id);
        });
    if (static_cast<int>(all.size()) > f.limit) all.resize(f.limit);
    return all;
  }

  absl::StatusOr<std::optional<StoredCalendar>> PublishedCalendar(
      int key_kind, const std::string& code) override {
    auto it = s_.calendars.find({key_kind, code});
    if (it == s_.calendars.end()) return std::nullopt;
    return it->second;
  }

  absl::Status PutPublishedCalendar(const StoredCalendar& calendar,
                                    const std::string& replaces_etag) override {
    auto it = s_.calendars.find({calendar.key_kind, calendar.code});
    if (replaces_etag.empty() ? it != s_.calendars.end()
                              : it == s_.calendars.end() || it->second.etag != replaces_etag) {
      return absl::AbortedError("calendar changed concurrently; retry");
    }
    s_.calendars[{calendar.key_kind, calendar.code}] = calendar;
    return absl::OkStatus();
  }

  absl::Status AddPendingAuditEvent(const PendingAuditEvent& event) override {
    s_.outbox.push_back(event);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PendingAuditEvent>> PendingAuditEvents(int limit) override {
    std::vector<PendingAuditEvent> out;
    for (const PendingAuditEvent& e : s_.outbox) {
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(e);
    }
    return out;
  }

  absl::Status DeletePendingAuditEvent(const std::string& id) override {
    std::erase_if(s_.outbox, [&](const PendingAuditEvent& e) { return e.id == id; });
    return absl::OkStatus();
  }

  absl::Status BulkLoad(const std::vector<BulkChild>& children, absl::Time create_time) override {
    for (const BulkChild& c : children) {
      KINEX_RETURN_IF_ERROR(CreateChild(c.kinex_id, create_time));
      if (!c.responsible_la.empty()) {
        KINEX_RETURN_IF_ERROR(SetResponsibleLa(c.kinex_id, c.responsible_la, create_time));
      }
      for (const StoredLink& l : c.agency_links) KINEX_RETURN_IF_ERROR(PutLink(l));
      for (const auto& [kind, value] : c.identifiers) {
        KINEX_RETURN_IF_ERROR(AddIdentifier(kind, value, c.kinex_id));
      }
      for (const StoredPart& p : c.parts) KINEX_RETURN_IF_ERROR(InsertPart(p));
      KINEX_RETURN_IF_ERROR(ReplaceScopeLinks(c.kinex_id, c.links));
    }
    return absl::OkStatus();
  }

 private:
  FakeRecordsStorage::State& s_;
};

}  // namespace

absl::Status FakeRecordsStorage::Transact(const std::function<absl::Status(RecordsTxn&)>& fn) {
  return state_.Transact([&](State& s) {
    FakeTxn txn(s);
    return fn(txn);
  });
}

size_t FakeRecordsStorage::PendingAuditEventCount() const {
  return state_.Read([](const State& s) { return s.outbox.size(); });
}

size_t FakeRecordsStorage::ChildCount() const {
  return state_.Read([](const State& s) { return s.children.size(); });
}

}  // namespace kinex::records
