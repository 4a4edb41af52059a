#include "services/kinex/targets.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_client.h"
#include "services/audit/audit_target.h"
#include "services/common/status_macros.h"
#include "services/common/tls.h"
#include "services/consent/consent_grpc.h"
#include "services/consent/consent_target.h"
#include "services/gateway/audit_front.h"
#include "services/gateway/consent_front.h"
#include "services/gateway/edge.h"
#include "services/gateway/exchange_service.h"
#include "services/gateway/gateway.h"
#include "services/gateway/notifications.h"
#include "services/gateway/notifications_service.h"
#include "services/kinex/config.h"
#include "services/kinex/process_metrics.h"
#include "services/policy/local_policy_decider.h"
#include "services/policy/policy_client.h"
#include "services/policy/policy_consent_authorizer.h"
#include "services/policy/policy_engine.h"
#include "services/policy/policy_roles.h"
#include "services/policy/policy_target.h"
#include "services/records/records_grpc.h"
#include "services/records/records_target.h"

namespace kinex {
namespace {

using kinex::config::v1::KinexConfig;

// The gateway's own parts, whatever the mode. Members in dependency order.
struct GatewayParts {
  gateway::RateLimiter limiter;
  gateway::Metrics metrics;
  gateway::Edge edge;
  std::unique_ptr<policy::PolicyDecider> decider;
  std::unique_ptr<policy::PolicyConsentAuthorizer> authorizer;
  std::unique_ptr<gateway::Gateway> gateway;
  std::unique_ptr<gateway::ExchangeService> exchange;
  std::unique_ptr<gateway::ConsentFront> consent_front;
  std::unique_ptr<gateway::Notifications> notifications;
  // Stopped (destroyed) before what it reads from; the server has ended
  // every watch by then.
  std::unique_ptr<gateway::WatchHub> watch_hub;
  std::unique_ptr<gateway::NotificationsService> notifications_service;

  // `engine` is the policy set whose declared roles the edge admits.
  GatewayParts(const KinexConfig& config, const Clock& clock,
               std::shared_ptr<const policy::PolicyEngine> engine)
      : limiter({config.gateway().rate_limit_per_agency(),
                 static_cast<double>(config.gateway().rate_limit_burst())},
                clock),
        edge(limiter, metrics, config.trust_domain(), std::cerr,
             {.declared_roles = policy::PolicyDeclaredRoles(std::move(engine)),
              .max_in_flight_per_agency = config.gateway().max_in_flight_per_agency(),
              .max_streams_per_agency = config.gateway().max_streams_per_agency()}) {}
};

// The policy set `t` reloads on SIGHUP, and its version as a gauge
// (kinex_policy_info{version}).
void UsePolicy(Targets& t, std::shared_ptr<policy::PolicyEngine> engine) {
  t.reload = [engine] { return engine->Reload(); };
  auto gauges = std::make_shared<ScrapeGauges>();
  gauges->Add("kinex_policy_info", "The policy version in force (value 1)",
              [engine]() -> std::vector<ScrapeGauges::Sample> {
                return {{{{"version", engine->version()}}, 1}};
              });
  t.collectables.push_back(std::move(gauges));
}

// The audit log's size and the time of its latest signed tree head, read
// when scraped. `log` must outlive the exposer (it is in t.owned).
void UseAuditLog(Targets& t, const audit::AuditLog* log) {
  auto gauges = std::make_shared<ScrapeGauges>();
  gauges->Add("kinex_audit_tree_size", "Leaves in the audit log",
              [log]() -> std::vector<ScrapeGauges::Sample> {
                return {{{}, static_cast<double>(log->Size())}};
              });
  gauges->Add(
      "kinex_audit_signed_head_timestamp_seconds",
      "Time of the latest signed tree head, Unix seconds (signed every "
      "audit.sign_interval_seconds while idle, and with every append batch)",
      [log]() -> std::vector<ScrapeGauges::Sample> {
        const auto head = log->LatestHead();
        if (!head.has_timestamp()) return {};
        return {
            {{}, static_cast<double>(head.timestamp().seconds()) + head.timestamp().nanos() / 1e9}};
      });
  // The notifications beside the log, counted when scraped: one query for
  // the four families.
  using Stats = audit::NotificationStats;
  using Samples = std::vector<ScrapeGauges::Sample>;
  gauges->AddGroup<Stats>(
      [log]() { return log->ReadNotificationStats(); },
      {{"kinex_notifications_unacknowledged",
        "Notifications not yet acknowledged (reviews: not yet reviewed)",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.unacknowledged)}};
        }},
       {"kinex_notifications_oldest_unacknowledged_timestamp_seconds",
        "When the oldest unacknowledged notification was raised, Unix seconds (age: "
        "time() - this); absent when none is waiting",
        [](const Stats& s) {
          if (s.oldest_unacknowledged_us == 0) return Samples{};
          return Samples{{{}, static_cast<double>(s.oldest_unacknowledged_us) / 1e6}};
        }},
       {"kinex_notification_deadline_misses",
        "Operation Encompass notifications escalated for a missed deadline (ever)",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.deadline_misses)}};
        }},
       {"kinex_break_glass_reviews_open", "Break-glass reviews not yet closed", [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.open_reviews)}};
        }}});
  t.collectables.push_back(std::move(gauges));
}

// SIGHUP also re-reads the school calendars (a failed reload keeps those in
// force and fails the reload's result).
void UseCalendars(Targets& t, records::CalendarDir* calendars) {
  t.reload = [previous = std::move(t.reload), calendars] {
    absl::Status first = previous();
    absl::Status second = calendars->Reload();
    return first.ok() ? second : first;
  };
}

// The records service's calendars (above) and its reads' view cache, read
// when scraped. `records` must outlive the exposer (it is in t.owned).
void UseRecords(Targets& t, const RecordsTarget& records) {
  UseCalendars(t, records.calendars.get());
  using Stats = records::ChildViewCache::Stats;
  using Samples = std::vector<ScrapeGauges::Sample>;
  const records::RecordsCore* core = records.core.get();
  auto gauges = std::make_shared<ScrapeGauges>();
  gauges->AddGroup<Stats>(
      [core]() -> absl::StatusOr<Stats> { return core->view_cache_stats(); },
      {{"kinex_records_view_cache_lookups_total",
        "Reads that asked the view cache for a child, by result: hit (the view kept at the "
        "snapshot's generation) or miss (absent, or the child changed since)",
        [](const Stats& s) {
          return Samples{{{{"result", "hit"}}, static_cast<double>(s.hits)},
                         {{{"result", "miss"}}, static_cast<double>(s.misses)}};
        },
        /*counter=*/true},
       {"kinex_records_view_cache_evictions_total",
        "Views dropped to keep the cache within records.view_cache_mib",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.evictions)}};
        },
        /*counter=*/true},
       {"kinex_records_view_cache_bytes", "About how much memory the kept views hold",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.bytes)}};
        }},
       {"kinex_records_view_cache_entries", "Children whose view is kept", [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.entries)}};
        }}});
  t.collectables.push_back(std::move(gauges));
}

// The gateway's kept facts (gateway.facts_cache_entries), read when
// scraped. `gateway` must outlive the exposer.
void UseFactsCache(Targets& t, const gateway::Gateway& gateway) {
  using Stats = gateway::FactsCache::Stats;
  using Samples = std::vector<ScrapeGauges::Sample>;
  auto gauges = std::make_shared<ScrapeGauges>();
  gauges->AddGroup<Stats>(
      [&gateway]() -> absl::StatusOr<Stats> { return gateway.facts_cache_stats(); },
      {{"kinex_gateway_facts_cache_lookups_total",
        "GetChildRecord calls that asked the kept facts for their child, by result: hit "
        "(decided on them, confirmed by records) or miss (facts read from records)",
        [](const Stats& s) {
          return Samples{{{{"result", "hit"}}, static_cast<double>(s.hits)},
                         {{{"result", "miss"}}, static_cast<double>(s.misses)}};
        },
        /*counter=*/true},
       {"kinex_gateway_facts_cache_stale_total",
        "Hits whose facts had moved (records refused the pinned read, or fresh facts overturned "
        "a denial): decided again on fresh facts",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.stale)}};
        },
        /*counter=*/true},
       {"kinex_gateway_facts_cache_evictions_total",
        "Facts dropped to keep within gateway.facts_cache_entries",
        [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.evictions)}};
        },
        /*counter=*/true},
       {"kinex_gateway_facts_cache_entries", "Children whose facts are kept", [](const Stats& s) {
          return Samples{{{}, static_cast<double>(s.entries)}};
        }}});
  t.collectables.push_back(std::move(gauges));
}

gateway::Gateway::Options GatewayOptions(const KinexConfig& config) {
  gateway::Gateway::Options o;
  o.break_glass_min_justification = config.gateway().break_glass_min_justification();
  o.facts_cache_entries = config.gateway().facts_cache_entries();
  return o;
}

// Builds the gateway over the given dependencies and adds its public
// services (Exchange, the agency-facing Consent, Notifications) to `t`.
absl::Status AddGateway(Targets& t, GatewayParts& g, const KinexConfig& config, const Clock& clock,
                        records::RecordsStore& records, consent::ConsentRegistry& consent,
                        audit::AuditSink& audit, audit::NotificationReader& notification_reader,
                        const policy::PolicyEngine& engine) {
  g.authorizer = std::make_unique<policy::PolicyConsentAuthorizer>(engine);
  gateway::Gateway::Dependencies deps;
  deps.records = &records;
  deps.consent = &consent;
  deps.policy = g.decider.get();
  deps.audit = &audit;
  deps.metrics = &g.metrics;
  deps.clock = &clock;
  g.gateway = std::make_unique<gateway::Gateway>(GatewayOptions(config), deps);
  UseFactsCache(t, *g.gateway);
  g.exchange = std::make_unique<gateway::ExchangeService>(*g.gateway, g.edge);
  g.consent_front =
      std::make_unique<gateway::ConsentFront>(consent, records, *g.authorizer, g.edge);
  t.collectables.push_back(g.metrics.registry());
  t.services.push_back(g.exchange.get());
  t.service_names.push_back("kinex.exchange.v1.Exchange");
  t.services.push_back(g.consent_front.get());
  t.service_names.push_back("kinex.consent.v1.Consent");
  g.notifications = std::make_unique<gateway::Notifications>(gateway::Notifications::Dependencies{
      .audit = &audit, .reader = &notification_reader});
  gateway::WatchHub::Options hub;
  if (config.gateway().notification_poll_millis() > 0) {
    hub.poll_interval = absl::Milliseconds(config.gateway().notification_poll_millis());
  }
  hub.metrics = &g.metrics;
  g.watch_hub = std::make_unique<gateway::WatchHub>(*g.notifications, notification_reader, hub);
  g.watch_hub->Start();
  g.notifications_service =
      std::make_unique<gateway::NotificationsService>(*g.notifications, *g.watch_hub, g.edge);
  t.services.push_back(g.notifications_service.get());
  t.service_names.push_back("kinex.notifications.v1.Notifications");
  t.before_shutdown = [hub = g.watch_hub.get()] { hub->EndAll(); };
  return absl::OkStatus();
}

// --target=all: every service in this process, calls in process.
struct AllParts {
  AuditTarget audit;  // before records and consent, which append to it
  RecordsTarget records;
  policy::PolicyTarget policy;
  std::unique_ptr<policy::PolicyConsentAuthorizer> consent_authorizer;
  ConsentTarget consent;
  std::unique_ptr<GatewayParts> gateway;
  std::unique_ptr<gateway::AuditFront> audit_front;
};

absl::StatusOr<Targets> BuildAll(const KinexConfig& config, const Clock& clock) {
  auto parts = std::make_shared<AllParts>();
  KINEX_ASSIGN_OR_RETURN(parts->audit, MakeAuditTarget(config, clock));
  KINEX_ASSIGN_OR_RETURN(parts->records, MakeRecordsTarget(config, clock, *parts->audit.log));
  KINEX_ASSIGN_OR_RETURN(parts->policy, policy::MakePolicyTarget(config, clock));
  parts->consent_authorizer =
      std::make_unique<policy::PolicyConsentAuthorizer>(*parts->policy.engine);
  KINEX_ASSIGN_OR_RETURN(parts->consent,
                         MakeConsentTarget(config, clock,
                                           {.records = parts->records.core.get(),
                                            .authorizer = parts->consent_authorizer.get(),
                                            .audit = parts->audit.log.get()}));
  Targets t;
  parts->gateway = std::make_unique<GatewayParts>(config, clock, parts->policy.engine);
  parts->gateway->decider = std::make_unique<policy::LocalPolicyDecider>(*parts->policy.engine);
  KINEX_RETURN_IF_ERROR(AddGateway(t, *parts->gateway, config, clock, *parts->records.core,
                                   *parts->consent.core, *parts->audit.log, *parts->audit.log,
                                   *parts->policy.engine));
  // One port serves everything: the public APIs above (auditors query the
  // log through the gateway's AuditFront, as in microservices mode), plus
  // the Policy and Records adapters, which admit only the Kinex services
  // the service ACL lists. The consent and audit services' own adapters are
  // not registered: their names are taken by the public fronts.
  parts->audit_front = std::make_unique<gateway::AuditFront>(
      gateway::LocalAuditReads(*parts->audit.log), parts->gateway->edge);
  t.services.push_back(parts->audit_front.get());
  t.service_names.push_back("kinex.audit.v1.Audit");
  t.services.push_back(parts->policy.grpc_service.get());
  t.service_names.push_back("kinex.policy.v1.Policy");
  t.services.push_back(parts->records.grpc_service.get());
  t.service_names.push_back("kinex.records.v1.Records");
  t.unlisted_service_names = {"kinex.policy.v1.Policy", "kinex.records.v1.Records"};
  std::shared_ptr<policy::PolicyEngine> engine = parts->policy.engine;
  UsePolicy(t, engine);
  UseRecords(t, parts->records);
  UseAuditLog(t, parts->audit.log.get());
  t.owned = std::move(parts);
  return t;
}

// A channel to another Kinex service, authenticated with this service's
// certificate (its service SPIFFE ID).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Upstream(const KinexConfig& config,
                                                        const std::string& address) {
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                         MakeChannelCredentials(TlsFilesOf(config)));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(config.gateway().max_message_bytes());
  args.SetMaxSendMessageSize(config.gateway().max_message_bytes());
  return grpc::CreateCustomChannel(address, creds, args);
}

template <typename T>
Targets Single(T target, grpc::Service* service, const char* name) {
  auto holder = std::make_shared<T>(std::move(target));
  Targets t;
  t.services.push_back(service);
  t.service_names.push_back(name);
  t.owned = std::move(holder);
  return t;
}

struct GatewayOnlyParts {
  std::shared_ptr<policy::PolicyEngine> engine;  // consent-file permissions
  std::unique_ptr<records::RecordsStore> records;
  std::unique_ptr<consent::ConsentRegistry> consent;
  std::unique_ptr<audit::AuditClient> audit;
  std::unique_ptr<GatewayParts> gateway;
  std::unique_ptr<gateway::AuditFront> audit_front;
};

absl::StatusOr<Targets> BuildGateway(const KinexConfig& config, const Clock& clock) {
  auto parts = std::make_shared<GatewayOnlyParts>();
  KINEX_ASSIGN_OR_RETURN(
      parts->engine, policy::PolicyEngine::Create({.policy_dir = config.policy().policy_dir()}));
  KINEX_ASSIGN_OR_RETURN(auto records_ch, Upstream(config, config.upstream().records()));
  KINEX_ASSIGN_OR_RETURN(auto consent_ch, Upstream(config, config.upstream().consent()));
  KINEX_ASSIGN_OR_RETURN(auto audit_ch, Upstream(config, config.upstream().audit()));
  parts->records = std::make_unique<records::RecordsGrpcClient>(records_ch);
  parts->consent = std::make_unique<consent::ConsentGrpcClient>(consent_ch);
  // The disclosures being served at one moment go to the log in one
  // AppendBatch (each call still waits for its own event to be durable).
  parts->audit = std::make_unique<audit::AuditClient>(
      audit_ch, audit::AuditClient::Options{.coalesce_appends = true});
  parts->gateway = std::make_unique<GatewayParts>(config, clock, parts->engine);
  // Decided by the gateway's own copy of the policy set (the one its edge
  // already takes its declared roles from), or by the policy service.
  if (config.gateway().policy_decisions() == config::v1::GatewayConfig::SERVICE) {
    KINEX_ASSIGN_OR_RETURN(auto policy_ch, Upstream(config, config.upstream().policy()));
    parts->gateway->decider = std::make_unique<policy::RemotePolicyDecider>(policy_ch);
  } else {
    parts->gateway->decider = std::make_unique<policy::LocalPolicyDecider>(*parts->engine);
  }
  Targets t;
  KINEX_RETURN_IF_ERROR(AddGateway(t, *parts->gateway, config, clock, *parts->records,
                                   *parts->consent, *parts->audit, *parts->audit,
                                   *parts->engine));
  // Auditors query the log through the front door too.
  parts->audit_front = std::make_unique<gateway::AuditFront>(audit_ch, parts->gateway->edge);
  t.services.push_back(parts->audit_front.get());
  t.service_names.push_back("kinex.audit.v1.Audit");
  std::shared_ptr<policy::PolicyEngine> engine = parts->engine;
  UsePolicy(t, engine);
  t.owned = std::move(parts);
  return t;
}

struct RecordsOnlyParts {
  std::unique_ptr<audit::AuditSink> audit;  // record writes are audited
  RecordsTarget records;
};

struct ConsentOnlyParts {
  std::shared_ptr<policy::PolicyEngine> engine;
  std::unique_ptr<policy::PolicyConsentAuthorizer> authorizer;
  std::unique_ptr<audit::AuditSink> audit;  // consent writes are audited
  ConsentTarget consent;
};

}  // namespace

absl::StatusOr<Targets> BuildTargets(const KinexConfig& config, const Clock& clock) {
  const std::string& target = config.target();
  if (target == "all") return BuildAll(config, clock);
  if (target == "gateway") return BuildGateway(config, clock);
  if (target == "records") {
    // Every write is an audit event, appended to the audit service.
    auto parts = std::make_shared<RecordsOnlyParts>();
    KINEX_ASSIGN_OR_RETURN(auto audit_ch, Upstream(config, config.upstream().audit()));
    parts->audit = std::make_unique<audit::AuditClient>(
        audit_ch, audit::AuditClient::Options{.coalesce_appends = true});
    KINEX_ASSIGN_OR_RETURN(parts->records, MakeRecordsTarget(config, clock, *parts->audit));
    Targets t;
    t.services.push_back(parts->records.grpc_service.get());
    t.service_names.push_back("kinex.records.v1.Records");
    UseRecords(t, parts->records);
    t.owned = std::move(parts);
    return t;
  }
  if (target == "audit") {
    KINEX_ASSIGN_OR_RETURN(AuditTarget a, MakeAuditTarget(config, clock));
    grpc::Service* s = a.grpc_service.get();
    const audit::AuditLog* log = a.log.get();
    Targets t = Single(std::move(a), s, "kinex.audit.v1.Audit");
    UseAuditLog(t, log);
    return t;
  }
  if (target == "policy") {
    KINEX_ASSIGN_OR_RETURN(policy::PolicyTarget p, policy::MakePolicyTarget(config, clock));
    std::shared_ptr<policy::PolicyEngine> engine = p.engine;
    grpc::Service* s = p.grpc_service.get();
    Targets t = Single(std::move(p), s, "kinex.policy.v1.Policy");
    UsePolicy(t, engine);
    return t;
  }
  if (target == "consent") {
    // Who may record what is policy's call: the consent service loads the
    // same policy set (reloaded on SIGHUP) rather than calling out per write.
    auto parts = std::make_shared<ConsentOnlyParts>();
    KINEX_ASSIGN_OR_RETURN(
        parts->engine, policy::PolicyEngine::Create({.policy_dir = config.policy().policy_dir()}));
    parts->authorizer = std::make_unique<policy::PolicyConsentAuthorizer>(*parts->engine);
    KINEX_ASSIGN_OR_RETURN(auto audit_ch, Upstream(config, config.upstream().audit()));
    parts->audit = std::make_unique<audit::AuditClient>(audit_ch);
    KINEX_ASSIGN_OR_RETURN(parts->consent, MakeConsentTarget(config, clock,
                                                             {.authorizer = parts->authorizer.get(),
                                                              .audit = parts->audit.get()}));
    Targets t;
    t.services.push_back(parts->consent.grpc_service.get());
    t.service_names.push_back("kinex.consent.v1.Consent");
    std::shared_ptr<policy::PolicyEngine> engine = parts->engine;
    UsePolicy(t, engine);
    t.owned = std::move(parts);
    return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown target \"", target, "\""));
}

}  // namespace kinex
