// Node 20 fetch agent for the Heron stand-in provider.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node heron/standin/agents/node_fetch.mjs --base-url https://127.0.0.1:PORT
//
// Node's fetch (undici) runs TLS through the OpenSSL statically linked into
// the node binary, so a capture must hook /usr/bin/node itself.  Node reads
// NODE_EXTRA_CA_CERTS only at start-up: when --ca is given and differs from
// it, this script re-runs itself once with it set (set it yourself to keep
// the capture to one node process).
//
// Calls: a non-streamed chat completion, a streamed one with include_usage
// (SSE read incrementally), a streamed tool round with argument fragments
// reassembled, and a streamed Anthropic message.  Exits 0 and prints
// "node_fetch: ok calls=N tool_calls=M" on success, 1 with a reason otherwise.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const NAME = "node_fetch";
const FAKE_KEY = "sk-standin-fake-node-key";

function parseArgs(argv) {
  const out = { baseUrl: process.env.STANDIN_BASE_URL, ca: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--base-url") out.baseUrl = argv[++i];
    else if (argv[i] === "--ca") out.ca = argv[++i];
    else if (argv[i] === "--help") {
      console.log("usage: node node_fetch.mjs --base-url URL [--ca CAFILE]");
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.baseUrl) throw new Error("--base-url is required (or set STANDIN_BASE_URL)");
  out.baseUrl = out.baseUrl.replace(/\/+$/, "");
  return out;
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function* sseData(response) {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of response.body) {
    buf += decoder.decode(chunk, { stream: true });
    let idx;
    while ((idx = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) yield line.slice(6);
      }
    }
  }
}

async function post(base, path, body, headers = {}) {
  return fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${FAKE_KEY}`, ...headers },
    body: JSON.stringify(body),
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.ca && process.env.NODE_EXTRA_CA_CERTS !== args.ca && args.baseUrl.startsWith("https:")) {
    if (process.env.STANDIN_NODE_REEXEC) throw new Error("NODE_EXTRA_CA_CERTS was not honoured");
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, NODE_EXTRA_CA_CERTS: args.ca, STANDIN_NODE_REEXEC: "1" },
    });
    process.exit(r.status ?? 1);
  }
  const base = args.baseUrl;
  let calls = 0;
  let toolCalls = 0;

  // 1. non-streamed chat
  let r = await post(base, "/v1/chat/completions", {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello from node fetch" }],
  });
  check(r.status === 200, `chat: expected 200, found ${r.status}`);
  const data = await r.json();
  check(data.choices[0].message.content, "chat: expected text");
  calls++;

  // 2. streamed chat with usage
  r = await post(base, "/v1/chat/completions", {
    model: "gpt-4o-mini",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "Stream to node fetch" }],
  });
  check(r.status === 200, `stream: expected 200, found ${r.status}`);
  let text = "";
  let usage = null;
  for await (const d of sseData(r)) {
    if (d === "[DONE]") break;
    const obj = JSON.parse(d);
    if (obj.usage) usage = obj.usage;
    for (const ch of obj.choices) text += ch.delta.content ?? "";
  }
  check(text && usage && usage.completion_tokens > 0, "stream: expected text and usage");
  calls++;

  // 3. streamed tool round
  const tools = [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Current weather for a city.",
        parameters: { type: "object", properties: { city: { type: "string", examples: ["Oslo"] } } },
      },
    },
  ];
  const messages = [{ role: "user", content: "Weather in Oslo?" }];
  for (let round = 0; round < 5; round++) {
    r = await post(base, "/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages, tools });
    check(r.status === 200, `tools: expected 200, found ${r.status}`);
    calls++;
    const pending = {};
    let answer = "";
    for await (const d of sseData(r)) {
      if (d === "[DONE]") break;
      for (const ch of JSON.parse(d).choices) {
        answer += ch.delta.content ?? "";
        for (const tc of ch.delta.tool_calls ?? []) {
          const slot = (pending[tc.index] ??= { id: "", name: "", arguments: "" });
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.name = tc.function.name;
          if (tc.function?.arguments) slot.arguments += tc.function.arguments;
        }
      }
    }
    const list = Object.values(pending);
    if (list.length === 0) {
      check(answer, "tools: expected a final answer");
      break;
    }
    messages.push({
      role: "assistant",
      content: null,
      tool_calls: list.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
    });
    for (const c of list) {
      const a = JSON.parse(c.arguments);
      toolCalls++;
      messages.push({ role: "tool", tool_call_id: c.id, content: JSON.stringify({ city: a.city, temp_c: 21 }) });
    }
  }
  check(toolCalls === 1, `tools: expected 1 tool call, found ${toolCalls}`);

  // 4. streamed Anthropic message
  r = await post(
    base,
    "/v1/messages",
    { model: "claude-haiku-4-5", max_tokens: 100, stream: true, messages: [{ role: "user", content: "Hi from node" }] },
    { "x-api-key": FAKE_KEY, "anthropic-version": "2023-06-01" },
  );
  check(r.status === 200, `messages: expected 200, found ${r.status}`);
  let stop = null;
  for await (const d of sseData(r)) {
    const obj = JSON.parse(d);
    if (obj.type === "message_delta") stop = obj.delta.stop_reason;
  }
  check(stop === "end_turn", `messages: expected stop_reason end_turn, found ${stop}`);
  calls++;

  console.log(`${NAME}: ok calls=${calls} tool_calls=${toolCalls}`);
}

main().catch((e) => {
  console.error(`${NAME}: FAILED: ${e?.cause?.message ?? e?.message ?? e}`);
  process.exit(1);
});
