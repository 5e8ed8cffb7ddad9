// Loads a Chrome trace JSON file (argv[2]) with @paulirish/trace_engine — the trace model of
// Chrome DevTools' Performance panel — and prints what it understood, as JSON on stdout: every
// thread with its name and its entries (complete events) counted by name, and the trace bounds.
// TRACE_ENGINE: the package's directory (scripts/trace-engine.sh prints it). Exits non-zero when
// the document does not parse or the model rejects it.
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

const root = process.env.TRACE_ENGINE;
if (!root) throw new Error('TRACE_ENGINE is not set');
const Trace = await import(url.pathToFileURL(path.join(root, 'models/trace/trace.js')).href);
// The model measures layout with DOMRect, which node lacks; nothing here lays anything out.
globalThis.DOMRect ??= class DOMRect {
  constructor(x = 0, y = 0, width = 0, height = 0) { Object.assign(this, {x, y, width, height}); }
};

const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (!Array.isArray(doc.traceEvents)) throw new Error('no traceEvents array');
const model = Trace.TraceModel.Model.createWithAllHandlers();
await model.parse(doc.traceEvents);
const data = model.parsedTrace().data;
const threads = [];
for (const [pid, proc] of data.Renderer.processes) {
  for (const [tid, thread] of proc.threads) {
    const entries = {};
    for (const e of thread.entries) entries[e.name] = (entries[e.name] ?? 0) + 1;
    threads.push({pid, tid, name: thread.name ?? null, entries});
  }
}
const bounds = data.Meta.traceBounds;
process.stdout.write(JSON.stringify({threads, bounds: {min: bounds.min, max: bounds.max}}) + '\n');
