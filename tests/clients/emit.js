#!/usr/bin/env node
// Real OpenTelemetry JS exporters, driven by Spindle's integration tests.
//
// usage: node emit.js <grpc|proto|json> <url> <out-file> [--gzip] [--traces N] [--service S]
//   grpc        url http://127.0.0.1:PORT            (OTLP/gRPC, h2c prior knowledge, insecure)
//   proto|json  url http://127.0.0.1:PORT/v1/traces  (OTLP/HTTP protobuf | JSON, chunked body)
//
// Builds N traces (default 2) of 7 spans each, exports them through the chosen exporter, and then:
//   - writes <out-file>: a serialized opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
//     holding exactly the spans the exporter was handed (all batches merged into one request, encoded
//     by the SDK's own ProtobufTraceSerializer), so a test can compare what it reads back field by field;
//   - prints one trace id (32 lowercase hex) per line on stdout, in creation order.
// Exit status: 0 on success, 1 if any export failed (or nothing was exported), 2 on bad usage.
//
// Span shape of every trace (kinds in brackets; all parents are explicit contexts, never ambient):
//   root            [SERVER]   status UNSET, event with attributes, attributes of every type
//   ├─ child-int    [INTERNAL] status OK
//   │  └─ grandchild[CLIENT]   status ERROR with a message, exception-like event
//   ├─ child-client [CLIENT]   status UNSET, link to the previous trace's producer (or a synthetic
//   │                          remote context with a trace state for the first trace)
//   ├─ producer     [PRODUCER] status OK
//   ├─ consumer     [CONSUMER] status UNSET, two links (previous trace's root + this trace's producer)
//   └─ db           [CLIENT]   second instrumentation scope (name, version, schema url)
// Times are explicit [seconds, nanoseconds] pairs with odd nanosecond parts so precision loss shows.
'use strict';

const fs = require('fs');
const api = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');

const kUsage =
  'usage: node emit.js <grpc|proto|json> <url> <out-file> [--gzip] [--traces N] [--service S]';
const kTimeoutMillis = 10000;

function usage(msg) {
  if (msg) console.error(msg);
  console.error(kUsage);
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  const opts = { gzip: false, traces: 2, service: 'emit-js' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--gzip') {
      opts.gzip = true;
    } else if (a === '--traces') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 10000) usage('--traces wants an integer in [1, 10000]');
      opts.traces = n;
    } else if (a === '--service') {
      if (argv[i + 1] === undefined) usage('--service wants a value');
      opts.service = argv[++i];
    } else if (a.startsWith('--')) {
      usage('unknown option ' + a);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 3) usage();
  [opts.kind, opts.url, opts.outFile] = positional;
  return opts;
}

function makeExporter(opts) {
  const common = { url: opts.url, timeoutMillis: kTimeoutMillis };
  if (opts.gzip) common.compression = 'gzip';
  switch (opts.kind) {
    case 'grpc': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
      const grpc = require('@grpc/grpc-js');
      return new OTLPTraceExporter({ ...common, credentials: grpc.credentials.createInsecure() });
    }
    case 'proto':
      return new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)(common);
    case 'json':
      return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)(common);
    default:
      usage('unknown exporter kind ' + opts.kind);
  }
}

// Wraps export() so every span handed to the real exporter is kept, and any failure is remembered:
// the SDK only logs export errors, and a test must never pass on a silently dropped batch.
function captureExports(exporter) {
  const state = { spans: [], error: null, calls: 0 };
  const realExport = exporter.export.bind(exporter);
  exporter.export = (spans, done) => {
    state.calls++;
    state.spans.push(...spans);
    realExport(spans, (result) => {
      if (result.code !== 0 && !state.error) {
        state.error = result.error || new Error('export failed, code ' + result.code);
      }
      done(result);
    });
  };
  return state;
}

// Deterministic clock: trace t starts at a fixed second offset from now, every span/event time is
// base + a fixed offset, and the nanosecond parts are odd so that µs/ms rounding anywhere shows.
function clock(traceIndex) {
  const baseSec = Math.floor(Date.now() / 1000) - 60 + traceIndex;
  return (offsetMicros, extraNanos = 7) => {
    const nanos = offsetMicros * 1000 + 123 + extraNanos;
    return [baseSec + Math.floor(nanos / 1e9), nanos % 1e9];
  };
}

function everyTypeAttributes(t) {
  return {
    'str': 'value-' + t,
    'str.empty': '',
    'str.unicode': 'héllo wörld ✓ 日本',
    'int': 42 + t,
    'int.negative': -7,
    'int.big': 9007199254740991, // 2^53 - 1: the largest integer JS keeps exact
    'double': 3.25,
    'double.negative': -0.125,
    'bool.true': true,
    'bool.false': false,
    'arr.str': ['a', 'b', 'c'],
    'arr.int': [1, 2, 3],
    'arr.double': [1.5, 2.25, -3.75],
    'arr.bool': [true, false, true],
  };
}

function buildTrace(tracer, dbTracer, t, prev) {
  const at = clock(t);
  const under = (span) => api.trace.setSpan(api.ROOT_CONTEXT, span);

  const root = tracer.startSpan(
    'GET /checkout',
    {
      kind: api.SpanKind.SERVER,
      startTime: at(0, 1),
      attributes: { 'http.request.method': 'GET', 'http.route': '/checkout', ...everyTypeAttributes(t) },
    },
    api.ROOT_CONTEXT);
  root.addEvent('request.received', { 'bytes': 512, 'peer': '10.0.0.1', 'ratio': 0.5 }, at(10, 3));
  root.addEvent('no-attributes', at(20, 5));

  const internal = tracer.startSpan(
    'validate-cart',
    { kind: api.SpanKind.INTERNAL, startTime: at(100, 9), attributes: { 'cart.items': 3 } },
    under(root));
  const grand = tracer.startSpan(
    'price-lookup',
    {
      kind: api.SpanKind.CLIENT,
      startTime: at(150, 11),
      attributes: { 'rpc.system': 'grpc', 'arr.str': ['x', 'y'], 'retry': false },
    },
    under(internal));
  grand.addEvent('exception', {
    'exception.type': 'TimeoutError',
    'exception.message': 'deadline exceeded',
    'exception.escaped': true,
  }, at(180, 13));
  grand.setStatus({ code: api.SpanStatusCode.ERROR, message: 'price service timed out' });
  grand.end(at(190, 15));
  internal.setStatus({ code: api.SpanStatusCode.OK });
  internal.end(at(200, 17));

  // The first trace has no predecessor: link it to a remote context that carries a trace state.
  const remote = prev ? prev.producer : {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: api.TraceFlags.SAMPLED,
    isRemote: true,
    traceState: api.createTraceState('vendor1=opaque,vendor2=x'),
  };
  const client = tracer.startSpan(
    'POST /payments',
    {
      kind: api.SpanKind.CLIENT,
      startTime: at(300, 19),
      attributes: { 'http.request.method': 'POST', 'http.response.status_code': 201 },
      links: [{ context: remote, attributes: { 'link.kind': 'follows', 'link.index': 0 } }],
    },
    under(root));
  client.end(at(400, 21));

  const producer = tracer.startSpan(
    'orders publish',
    { kind: api.SpanKind.PRODUCER, startTime: at(500, 23), attributes: { 'messaging.system': 'kafka' } },
    under(root));
  producer.setStatus({ code: api.SpanStatusCode.OK });
  producer.end(at(550, 25));

  const consumerLinks = [{ context: producer.spanContext(), attributes: { 'link.same_trace': true } }];
  if (prev) {
    consumerLinks.push({ context: prev.root, attributes: { 'link.prev': 'root', 'link.weight': 0.75 } });
  }
  const consumer = tracer.startSpan(
    'orders process',
    {
      kind: api.SpanKind.CONSUMER,
      startTime: at(600, 27),
      attributes: { 'messaging.operation': 'process', 'arr.int': [10, -20] },
      links: consumerLinks,
    },
    under(root));
  consumer.end(at(700, 29));

  const db = dbTracer.startSpan(
    'SELECT orders',
    {
      kind: api.SpanKind.CLIENT,
      startTime: at(750, 31),
      attributes: { 'db.system': 'postgresql', 'db.rows': 3, 'arr.double': [0.1, 0.2] },
    },
    under(root));
  db.addEvent('rows', { 'count': 3 }, at(760, 33));
  db.end(at(800, 35));

  root.end(at(1000, 37));
  return { traceId: root.spanContext().traceId, root: root.spanContext(),
    producer: producer.spanContext() };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const exporter = makeExporter(opts);
  const captured = captureExports(exporter);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: opts.service,
      'service.version': '1.2.3',
      'service.namespace': 'spindle-tests',
      'deployment.environment': 'test',
      'host.name': 'emit-host',
      'process.pid.fake': 4242,
      'cloud.ratio': 0.5,
      'res.bool': true,
      'res.arr': ['r1', 'r2'],
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, {
      // Everything goes out at forceFlush, in as few requests as the batch size allows.
      scheduledDelayMillis: 60000,
      maxQueueSize: 100000,
      maxExportBatchSize: 512,
      exportTimeoutMillis: kTimeoutMillis,
    })],
  });
  const tracer = provider.getTracer('spindle-emit-js', '1.0.0');
  const dbTracer = provider.getTracer('spindle-emit-js.db', '0.9.1',
    { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });

  const ids = [];
  let prev = null;
  for (let t = 0; t < opts.traces; t++) {
    prev = buildTrace(tracer, dbTracer, t, prev);
    ids.push(prev.traceId);
  }

  let flushError = null;
  try {
    await provider.forceFlush();
  } catch (e) {
    flushError = e;
  }
  try {
    await provider.shutdown();
  } catch (e) {
    flushError = flushError || e;
  }
  const error = captured.error || flushError;
  if (error) throw error;
  const expectedSpans = opts.traces * 7;
  if (captured.spans.length !== expectedSpans) {
    throw new Error(`exported ${captured.spans.length} spans, expected ${expectedSpans}`);
  }
  const bytes = ProtobufTraceSerializer.serializeRequest(captured.spans);
  if (!bytes) throw new Error('could not serialize the exported spans');
  fs.writeFileSync(opts.outFile, bytes);
  process.stdout.write(ids.map((id) => id + '\n').join(''));
}

main().then(() => process.exit(0), (e) => {
  console.error('EXPORT FAILED:', (e && e.message) || e);
  process.exit(1);
});
