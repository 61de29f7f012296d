// testlib: what the Chromium tests of tests/web share: their --key value
// arguments, a check that counts, waiting with a bound, and a free port.
"use strict";
const net = require("net");

// `--crtd PATH --out DIR` as {crtd: PATH, out: DIR}.
function parseArgs(argv) {
  return Object.fromEntries(argv.reduce((pairs, a, i, all) =>
    (a.startsWith("--") ? pairs.concat([[a.slice(2), all[i + 1]]]) : pairs), []));
}

const counts = { passed: 0, failed: 0 };

function check(name, ok, detail = "") {
  if (ok) { counts.passed++; console.log(`ok   ${name}`); }
  else { counts.failed++; console.error(`FAIL ${name}${detail ? `: ${detail}` : ""}`); }
  return ok;
}

// The closing line the test runners read, and the exit status.
function finish() {
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls what() until it is true or timeoutMs has passed; errors count as "not yet".
async function until(what, timeoutMs, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try { if (await what()) return true; } catch (e) { /* not yet */ }
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

module.exports = { parseArgs, counts, check, finish, sleep, until, freePort };
