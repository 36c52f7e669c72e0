#pragma once
// The TraceQL conformance table: query text -> names of the spans it selects in corpus_trace(), every
// expected set worked out by hand from the tree drawn in trace_corpus.h (never by running the engine). Shared
// by the evaluator unit test (evaluated directly on the trace model) and the end-to-end conformance test (the
// same queries through /api/search with the trace in the head, in blocks, and split across both).
#include <set>
#include <string>

#include "tests/api/traceql/trace_corpus.h"

namespace spindle::corpus {

inline const char* const kRoot = "GET /checkout";
inline const std::set<std::string> kAll = {kRoot,       "auth",   "charge",    "db.query",
                                           "cache.get", "render", "db.commit", "async.consume"};

struct Case {
  const char* query;
  std::set<std::string> want;
};

// Expected sets worked out by hand from the tree in trace_corpus.h.
inline const Case kCases[] = {
    // ---- intrinsics ----
    {R"({ name = "auth" })", {"auth"}},
    {R"({ span:name =~ "db\\..*" })", {"db.query", "db.commit"}},
    {R"({ name !~ ".*a.*" })", {kRoot, "render", "db.commit", "db.query"}},
    {R"({ name =~ "auth|render" })", {"auth", "render"}},
    {R"({ name =~ "aut" })", {}},  // fully anchored
    {R"({ status = error })", {"charge", "db.query"}},
    {R"({ span:status = ok })", {"auth", "render", "async.consume"}},
    {R"({ status != unset })", {"auth", "charge", "db.query", "render", "async.consume"}},
    {R"({ statusMessage = "card declined" })", {"charge"}},
    {R"({ span:statusMessage = "" })",
     {kRoot, "auth", "db.query", "cache.get", "render", "db.commit", "async.consume"}},
    {R"({ kind = server })", {kRoot}},
    {R"({ span:kind = client })", {"charge", "db.query"}},
    {R"({ kind = producer || kind = consumer })", {"db.commit", "async.consume"}},
    {R"({ kind = unspecified })", {}},
    {R"({ duration > 200ms })", {kRoot, "charge", "db.query", "render"}},
    {R"({ span:duration <= 20ms })", {"cache.get", "db.commit"}},
    {R"({ duration = 50ms })", {"auth"}},
    {R"({ duration >= 1s })", {kRoot}},
    {R"({ duration < 0.05 * 1000000000 })", {"cache.get", "db.commit"}},
    {R"({ span:id = "a1b2c3d4e5f60703" })", {"charge"}},
    {R"({ span:parentID = "a1b2c3d4e5f60701" })", {"auth", "charge", "render"}},
    {R"({ span:parentID = nil })", {kRoot}},
    {R"({ span:childCount = 2 })", {"charge"}},
    {R"({ span:childCount > 0 })", {kRoot, "charge", "db.query", "db.commit"}},
    {R"({ childCount = 0 && kind = internal })", {"auth", "cache.get", "render"}},
    {R"({ traceDuration = 1s })", kAll},
    {R"({ trace:duration > 2s })", {}},
    {R"({ rootName = "GET /checkout" && name = "auth" })", {"auth"}},
    {R"({ rootServiceName = "frontend" && resource.service.name = "db" })",
     {"db.query", "cache.get", "db.commit"}},
    {R"({ trace:rootService = "checkout" })", {}},
    {R"({ trace:rootName =~ "GET.*" && kind = server })", {kRoot}},
    {R"({ trace:id = "abcdef0123456789abcdef012345678" })", kAll},
    {R"({ trace:id = "0ABCDEF0123456789ABCDEF012345678" })", kAll},
    {R"({ trace:id = "0abcdef0" })", {}},
    {R"({ event:name = "exception" })", {"charge"}},
    {R"({ event:name = "retry" && event.attempt = 2 })", {"charge"}},
    {R"({ event:name = "exception" && event.attempt = 2 })", {}},  // one event must satisfy both
    {R"({ event:timeSinceStart > 100ms })", {"charge"}},
    {R"({ event:timeSinceStart < 20ms })", {kRoot}},
    {R"({ event:name != nil })", {kRoot, "charge"}},
    {R"({ event:name = nil })", {"auth", "db.query", "cache.get", "render", "db.commit", "async.consume"}},
    {R"({ link:traceID = "1122334455667788" })", {kRoot}},
    {R"({ link:spanID = "a1b2c3d4e5f60703" })", {"render"}},
    {R"({ link:spanID = "00000000000000ee" })", {kRoot}},
    {R"({ link:traceID != nil })", {kRoot, "render"}},
    {R"({ instrumentation:name = "io.otel.http" })", {kRoot, "auth", "render"}},
    {R"({ instrumentation:version =~ "0\\..*" })", {"charge", "async.consume"}},
    {R"({ instrumentation:name = "" })", {"db.query", "cache.get", "db.commit"}},
    {R"({ nestedSetParent < 0 })", {kRoot}},
    {R"({ nestedSetLeft = 5 })", {"db.query"}},
    {R"({ nestedSetRight - nestedSetLeft = 1 })", {"auth", "async.consume", "cache.get", "render"}},
    {R"({ nestedSetParent = 4 })", {"db.query", "cache.get"}},
    // ---- scopes ----
    {R"({ span.http.status_code = 500 })", {"charge"}},
    {R"({ resource.service.name = "checkout" })", {"charge", "async.consume"}},
    {R"({ resource.deployment.env = "prod" && span.retries > 0 })", {"charge", "async.consume"}},
    {R"({ .region = "eu" })", {kRoot, "auth", "render"}},
    {R"({ .dup = "span" })", {kRoot}},  // span attributes shadow resource ones
    {R"({ .dup = "resource" })", {"auth", "render"}},
    {R"({ span.dup = "resource" })", {}},
    {R"({ resource.dup = "resource" })", {kRoot, "auth", "render"}},
    {R"({ resource.host.cores >= 8 })", {kRoot, "auth", "render"}},
    {R"({ event.exception.type = "CardError" })", {"charge"}},
    {R"({ event.evt.level = "info" })", {kRoot}},
    {R"({ .evt.level = "info" })", {}},  // unscoped reads events only in filters that iterate them
    {R"({ .exception.type = "CardError" && event:name = "exception" })", {"charge"}},
    {R"({ link.link.kind = "follows" })", {kRoot}},
    {R"({ link.link.kind =~ ".*of" })", {"render"}},
    {R"({ link:spanID = "00000000000000ee" && .link.kind = "follows" })", {kRoot}},
    {R"({ event:name = "exception" || link:traceID != nil })", {kRoot, "charge", "render"}},
    {R"({ instrumentation.lib.kind = "http" })", {kRoot, "auth", "render"}},
    {R"({ parent.name = "charge" })", {"db.query", "cache.get"}},
    {R"({ parent.resource.service.name = "db" })", {"db.commit", "async.consume"}},
    {R"({ parent.span.retries = 1 })", {"db.commit"}},
    {R"({ parent.duration > 500ms })", {"auth", "charge", "render", "db.query", "cache.get"}},
    {R"({ parent.name = nil })", {kRoot}},
    // ---- comparisons and types ----
    {R"({ span.http.status_code >= 200 && span.http.status_code < 300 })", {kRoot}},
    {R"({ span.http.status_code != 200 })", {"charge"}},  // absent is not "!= 200"
    {R"({ span.ratio > 1 })", {"auth"}},
    {R"({ span.ratio = 0.5 })", {kRoot}},
    {R"({ span.amount >= 12.75 })", {"charge"}},
    {R"({ span.cached = true })", {"cache.get"}},
    {R"({ span.cached != true })", {kRoot}},
    {R"({ span.http.method > "A" })", {kRoot}},
    {R"({ span.db.system < "q" })", {"db.query"}},
    {R"({ span.http.status_code = "200" })", {}},  // an int attribute never equals a string
    {R"({ span.retries = 1.0 })", {"db.query"}},
    {R"({ .user.id =~ "u-[0-9]+" })", {"auth"}},
    {R"({ span.payload = "\x01\x02" })", {"async.consume"}},
    // ---- nil ----
    {R"({ span.retries != nil })", {"auth", "charge", "db.query", "async.consume"}},
    {R"({ span.retries = nil })", {kRoot, "cache.get", "render", "db.commit"}},
    {R"({ span.kv != nil })", {}},  // kvlists are not comparable values
    {R"({ resource.region = nil })", {"db.query", "cache.get", "db.commit"}},
    {R"({ nil != span.template })", {"render"}},
    // ---- arrays ----
    {R"({ span.tags = "b" })", {kRoot}},
    {R"({ span.tags != "a" })", {"charge"}},
    {R"({ span.tags =~ "[bc]" })", {kRoot, "charge"}},
    {R"({ span.tags !~ "[ab]" })", {"charge"}},
    {R"({ span.codes > 300 })", {kRoot}},
    {R"({ span.codes = 500 })", {}},
    {R"({ span.tags != nil })", {kRoot, "charge"}},
    // ---- boolean logic ----
    {R"({ !(status = error) && kind = internal })", {"auth", "cache.get", "render"}},
    {R"({ (name = "auth" || name = "render") && status = ok })", {"auth", "render"}},
    {R"({ span.cached || span.retries = 3 })", {"cache.get", "charge"}},
    {R"({ !span.cached })", {kRoot}},
    {R"({ true })", kAll},
    {R"({})", kAll},
    {R"({ false })", {}},
    {R"({ 1 = 1 && name = "render" })", {"render"}},
    // ---- arithmetic ----
    {R"({ span.retries * 2 = 6 })", {"charge"}},
    {R"({ span.retries + 1 > 2 })", {"charge", "async.consume"}},
    {R"({ span.retries % 2 = 1 })", {"charge", "db.query"}},
    {R"({ span.retries ^ 2 = 9 })", {"charge"}},
    {R"({ 2 ^ span.retries = 8 })", {"charge"}},
    {R"({ span.retries / 2 = 1 })", {"charge", "async.consume"}},  // integer division
    {R"({ span.retries / 0 = 0 })", {}},
    {R"({ -span.retries < -2 })", {"charge"}},
    {R"({ duration - 100ms > 500ms })", {kRoot}},
    {R"({ span.amount * 4 = 51 })", {"charge"}},
    {R"({ duration / 2 = 25ms })", {"auth"}},
    {R"({ span.db.rows - 7 = 10 && span.db.rows / 4.0 = 4.25 })", {"db.query"}},
    // ---- spanset operators ----
    {R"({ name = "auth" } && { name = "render" })", {"auth", "render"}},
    {R"({ name = "auth" } && { name = "nope" })", {}},
    {R"({ name = "auth" } || { name = "nope" })", {"auth"}},
    {R"({ name = "charge" } > { })", {"db.query", "cache.get"}},
    {R"({ name = "charge" } >> { })", {"db.query", "cache.get", "db.commit", "async.consume"}},
    {R"({ name = "db.commit" } < { })", {"db.query"}},
    {R"({ name = "async.consume" } << { })", {"db.commit", "db.query", "charge", kRoot}},
    {R"({ name = "auth" } ~ { })", {"charge", "render"}},
    {R"({ name = "charge" } !> { })", {kRoot, "auth", "charge", "render", "db.commit", "async.consume"}},
    {R"({ name = "db.commit" } !< { })",
     {kRoot, "auth", "charge", "cache.get", "render", "db.commit", "async.consume"}},
    {R"({ name = "charge" } !>> { status = error })", {"charge"}},
    {R"({ name = "db.query" } !<< { })",
     {"auth", "db.query", "cache.get", "render", "db.commit", "async.consume"}},
    {R"({ name = "auth" } !~ { })", {kRoot, "auth", "db.query", "cache.get", "db.commit", "async.consume"}},
    {R"({ name = "charge" } &> { status = error })", {"charge", "db.query"}},
    {R"({ name = "db.commit" } &< { })", {"db.query", "db.commit"}},
    {R"({ name = "charge" } &>> { kind = producer || kind = consumer })",
     {"charge", "db.commit", "async.consume"}},
    {R"({ name = "db.commit" } &<< { status = unset })", {kRoot, "db.commit"}},
    {R"({ name = "db.query" } &~ { })", {"db.query", "cache.get"}},
    {R"({ kind = client } > { kind = client })", {"db.query"}},
    {R"({ name = "nope" } !> { kind = client })", {"charge", "db.query"}},
    {R"({ name = "nope" } > { })", {}},
    {R"(({ name = "charge" } > { }) && { name = "render" })", {"db.query", "cache.get", "render"}},
    {R"({ resource.service.name = "frontend" } >> { resource.service.name = "db" } && { status = ok })",
     {"db.query", "cache.get", "db.commit", "auth", "render", "async.consume"}},
    {R"({ kind = server } > { kind = client } > { kind = client })", {"db.query"}},
    {R"({ } >> { name = "async.consume" } || { name = "auth" } < { })", {"async.consume", kRoot}},
    // ---- pipelines ----
    {R"({ } | count() > 7)", kAll},
    {R"({ status = error } | count() = 2)", {"charge", "db.query"}},
    {R"({ status = error } | count() > 2)", {}},
    {R"({ } | avg(duration) > 200ms)", kAll},
    {R"({ } | avg(duration) > 300ms)", {}},
    {R"({ } | min(duration) = 10ms)", kAll},
    {R"({ } | max(span.retries) = 3)", kAll},
    {R"({ } | sum(span.retries) = 6)", kAll},
    {R"({ } | sum(span.retries) > 6)", {}},
    {R"({ } | avg(span.nope) > 0)", {}},
    {R"({ span.retries != nil } | avg(span.retries) = 1.5)", {"auth", "charge", "db.query", "async.consume"}},
    {R"({ } | by(resource.service.name) | count() > 2)",
     {kRoot, "auth", "render", "db.query", "cache.get", "db.commit"}},
    {R"({ } | by(resource.service.name) | count() = 2 | coalesce())", {"charge", "async.consume"}},
    {R"({ } | select(span.http.method))", kAll},
    {R"({ status = error } | select(resource.service.name, span.db.system))", {"charge", "db.query"}},
    {R"(({ status = error } | count() > 1) && { name = "auth" })", {"charge", "db.query", "auth"}},
    {R"(({ status = error } | count() > 5) || { name = "auth" })", {"auth"}},
    {R"(({ span.retries != nil } | count()) > 3)", {"auth", "charge", "db.query", "async.consume"}},
    {R"(({ span.retries != nil } | count()) > 4)", {}},
    {R"(({ status = error } | count()) = ({ kind = client } | count()))", {"charge", "db.query"}},
    {R"(({ status = error } | avg(duration)) > 400ms)", {"charge", "db.query"}},
    {R"({ } | count() * 2 = 16)", kAll},
    {R"({ kind = internal } | count() + 1 > 3)", {"auth", "cache.get", "render"}},
    {R"({ } | by(span.cached) | count() = 1)", {kRoot, "cache.get"}},
    {R"({ status = error } | { kind = client })", {"charge", "db.query"}},
    {R"({ status = error } | { resource.service.name = "db" })", {"db.query"}},
    {R"({ } | max(duration) > 1s)", {}},
    {R"({ } | by(resource.service.name) | { status = ok } | count() = 2)", {"auth", "render"}},
    {R"({ } | 7 < count())", kAll},
    {R"({ status = error } | by(kind) | count() = 2)", {"charge", "db.query"}},
    {R"({ } | count() > 1 with(most_recent=true))", kAll},
};

// incomplete_trace() (see trace_corpus.h) next to corpus_trace(): queries about roots that have not arrived,
// with the hand-computed result for each trace.
struct TwoTraceCase {
  const char* query;
  std::set<std::string> want_corpus;
  std::set<std::string> want_incomplete;
};

inline const TwoTraceCase kIncompleteCases[] = {
    {"{ nestedSetParent < 0 }", {kRoot}, {"orphan-a", "orphan-b", "lonely"}},
    {"{ rootName != nil }", kAll, {}},
    {"{ rootServiceName = nil }", {}, {"orphan-a", "orphan-b", "child-of-a", "lonely"}},
    // Siblings: root's children, charge's children; under the same missing parent ff only.
    {"{ } ~ { }", {"auth", "charge", "render", "db.query", "cache.get"}, {"orphan-a", "orphan-b"}},
    {R"({ name = "orphan-a" } > { })", {}, {"child-of-a"}},
    {R"({ name = "child-of-a" } << { })", {}, {"orphan-a"}},
    {R"({ span:parentID = "00000000000000ff" })", {}, {"orphan-a", "orphan-b"}},
    {R"({ resource.service.name = "svc2" })", {}, {"orphan-a", "orphan-b", "child-of-a", "lonely"}},
    {"{ } > { }",
     {"auth", "charge", "render", "db.query", "cache.get", "db.commit", "async.consume"},
     {"child-of-a"}},
    {"{ span:childCount = 0 }",
     {"auth", "cache.get", "render", "async.consume"},
     {"orphan-b", "child-of-a", "lonely"}},
};

}  // namespace spindle::corpus
