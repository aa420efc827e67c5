// Parses Mermaid diagrams with the real Mermaid parser, for lbrspec's tests.
// Input (stdin): a JSON list of diagram texts.  Output (stdout): a JSON list, one entry per
// text: {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<parser message>"}.
// Mermaid needs a DOM even to parse (it sanitises labels with DOMPurify), so jsdom provides
// one; the globals must exist before mermaid (and its DOMPurify) is first imported.
import fs from "node:fs";

const { JSDOM } = await import("jsdom");
const { window } = new JSDOM("<!DOCTYPE html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

const texts = JSON.parse(fs.readFileSync(0, "utf8"));
const out = [];
for (const text of texts) {
  try {
    const r = await mermaid.parse(text);
    out.push({ ok: true, type: r.diagramType });
  } catch (e) {
    out.push({ ok: false, error: String((e && e.message) || e).slice(0, 800) });
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
