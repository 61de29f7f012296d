// The fleet view in a real browser: Debian's Chromium, headless, driven by
// playwright-core and kept off the network, against three real crtd
// instances on loopback ports, each with its own token and with
// cors_origins allowing the first. The first one's fleet page shows all
// three instances' cameras; one killed shows as down while the other two
// keep updating; a page from an origin an instance does not list cannot
// read it.
//
//   node tests/web/fleet.test.js --crtd BUILD/daemon/crtd --out DIR
//
// DIR receives fleet.png and fleet-down.png (the test's artifacts).
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const { chromium } = require(path.join(root, "third_party", "npm", "node_modules", "playwright-core"));

const { parseArgs, counts, check, finish, sleep, until, freePort } = require("./testlib");

const args = parseArgs(process.argv.slice(2));
function apiGet(box, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port: box.port, path: p, headers: { Authorization: `Bearer ${box.token}` } },
      (res) => { let body = ""; res.on("data", (d) => body += d); res.on("end", () => resolve(JSON.parse(body))); })
      .on("error", reject);
  });
}

// Three boxes of one care home: two cameras each, a site and rooms; the
// second box has a zone and a rule that raises an alert.
const BOXES = [
  { site: "Rose wing", cams: [["lounge", "Lounge", "Walk*3,Sitdown*3&person=2:Readbook*6"], ["hall", "Hall", "Readbook*4,none*2"]] },
  { site: "Oak wing", cams: [["room12", "Room 12", "Sitdown*4,Walk*2"], ["bath12", "Bathroom 12", "none*3,Walk*3"]] },
  { site: "Oak wing", cams: [["room14", "Room 14", "Walk*2,Readbook*4"], ["porch", "Porch", "none*2,Walk*2"]] },
];

function startBox(i, box, firstOrigin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `crtd-fleet-${i}-`));
  box.dir = dir;
  box.token = `fleet-test-token-${i}-0123456789`;
  fs.writeFileSync(path.join(dir, "token"), box.token + "\n", { mode: 0o600 });
  let conf = `[daemon]\nhysteresis_s = 0\n[server]\ncors_origins = ${firstOrigin}\n`;
  for (const [name, room, script] of box.cams) {
    conf += `[stream "${name}"]\nurl = synthetic:script=${script}&segment_ms=250\nsite = ${box.site}\nroom = ${room}\n`;
  }
  if (i === 1) {
    conf += "zone.bed = seat 0.02,0.02 0.98,0.02 0.98,0.98 0.02,0.98\n";
    conf += `[rule "long_in_bed"]\nkind = in_zone_longer\nstream = ${box.cams[1][0]}\nzone = bed\nseconds = 1\n`;
  }
  fs.writeFileSync(path.join(dir, "crtd.conf"), conf);
  box.url = `http://127.0.0.1:${box.port}`;
  runBox(box);
}

function runBox(box) {
  const log = fs.openSync(path.join(box.dir, "crtd.log"), "a");
  box.proc = spawn(args.crtd, ["--config", path.join(box.dir, "crtd.conf"), "--model", "none",
    "--listen", `127.0.0.1:${box.port}`, "--state-dir", path.join(box.dir, "state"),
    "--token-file", path.join(box.dir, "token")], { stdio: ["ignore", log, log] });
}

const section = (page, box) => page.locator(`section[aria-label="Instance ${box.url}"]`);

async function main() {
  for (const box of BOXES) box.port = await freePort();
  const first = `http://127.0.0.1:${BOXES[0].port}`;
  BOXES.forEach((box, i) => startBox(i, box, first));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-default-apps",
      "--disable-domain-reliability", "--metrics-recording-only", "--no-proxy-server",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
  });
  try {
    for (const box of BOXES)
      check(`crtd on port ${box.port} answers`,
        await until(async () => (await apiGet(box, "/v1/streams")).streams.length === 2, 20000));

    // ---- the first box's fleet page: its own instance is there by default --------
    const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    await context.addInitScript((t) => sessionStorage.setItem("crtd-token", t), BOXES[0].token);
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(first + "/ui/fleet.html");
    check("the page's own instance is listed by default",
      await until(async () => (await section(page, BOXES[0]).getAttribute("data-state")) === "up", 10000));

    // The other two, added through the form as a person would; the third
    // first with a wrong token, then again with its own.
    const add = async (url, token) => {
      await page.fill("#add-url", url);
      await page.fill("#add-token", token);
      await page.click("#add-form button[type=submit]");
    };
    await add(BOXES[1].url + "/", BOXES[1].token);
    await add(BOXES[2].url, "not-the-token-0123456789");
    check("a wrong token shows as down, saying so",
      await until(async () => /down: wrong token/.test(await section(page, BOXES[2]).locator("h2 .badge").textContent()), 10000));
    await add(BOXES[2].url, BOXES[2].token);
    check("all three instances are up",
      await until(async () => {
        for (const box of BOXES)
          if ((await section(page, box).getAttribute("data-state")) !== "up") return false;
        return true;
      }, 15000));

    // Every camera as its own instance's API tells it.
    for (const box of BOXES) {
      const api = (await apiGet(box, "/v1/streams")).streams;
      for (const s of api) {
        const cardLoc = section(page, box).locator(`article[aria-label="Camera ${s.name}"]`);
        const meta = await cardLoc.locator(".meta").textContent();
        check(`${box.url} ${s.name}: name, site and room (${meta})`,
          await cardLoc.isVisible() && meta === `${s.site} · ${s.room}`);
        check(`${box.url} ${s.name}: state and activity`,
          await until(async () =>
            (await cardLoc.locator(".badge").textContent()) === "running" &&
            /^(Walk|Sitdown|Readbook) · \d+%$|^nobody$/.test(await cardLoc.locator(".now").textContent()), 10000),
          await cardLoc.locator(".now").textContent());
      }
    }
    const lounge = section(page, BOXES[0]).locator('article[aria-label="Camera lounge"]');
    check("a person count, two in the two-person lounge",
      await until(async () => (await lounge.locator(".people").textContent()) === "2 people", 10000),
      await lounge.locator(".people").textContent());
    const alertCam = section(page, BOXES[1]).locator(`article[aria-label="Camera ${BOXES[1].cams[1][0]}"]`);
    check("the second box's active alert shows on its camera",
      await until(async () => /long_in_bed/.test(await alertCam.textContent()) &&
        (await apiGet(BOXES[1], "/v1/alerts?state=open")).alerts.some((a) => a.rule === "long_in_bed"), 20000),
      await alertCam.textContent());
    check("the summary counts three up and six cameras",
      /3 of 3 up · 6 cameras/.test(await page.locator("#summary").textContent()));
    check("the instances and their tokens are kept in localStorage",
      await page.evaluate(() => JSON.parse(localStorage.getItem("crtd-fleet")).length) === 3);
    await page.reload();
    check("... and are back after a reload",
      await until(async () => (await page.locator("section.instance").count()) === 3 &&
        (await section(page, BOXES[2]).getAttribute("data-state")) === "up", 10000));
    await page.screenshot({ path: path.join(args.out, "fleet.png"), fullPage: true });

    // ---- an origin a box does not list cannot read it -----------------------------
    const other = await browser.newContext();
    await other.addInitScript((entries) => localStorage.setItem("crtd-fleet", JSON.stringify(entries)),
      [{ url: BOXES[2].url, token: BOXES[2].token }, { url: BOXES[0].url, token: BOXES[0].token }]);
    const otherPage = await other.newPage();
    await otherPage.goto(BOXES[1].url + "/ui/fleet.html");
    check("from the second box's page (not listed), the third box cannot be read",
      await until(async () => (await section(otherPage, BOXES[2]).getAttribute("data-state")) === "down", 10000));
    check("... while the first box, the same, shows as down too",
      await until(async () => (await section(otherPage, BOXES[0]).getAttribute("data-state")) === "down", 10000));
    await other.close();

    // ---- one box killed -----------------------------------------------------------
    BOXES[2].proc.kill("SIGKILL");
    check("the killed box shows as down",
      await until(async () => (await section(page, BOXES[2]).getAttribute("data-state")) === "down" &&
        /down/.test(await section(page, BOXES[2]).locator("h2 .badge").textContent()), 15000));
    const polls = async (box) => Number(await section(page, box).getAttribute("data-polls"));
    const before = [await polls(BOXES[0]), await polls(BOXES[1])];
    const nowText = async () => page.locator("section.instance[data-state=up] .card .now").allTextContents();
    const seen = await nowText();
    check("the other two keep updating (new answers and a changed activity)",
      await until(async () => (await polls(BOXES[0])) >= before[0] + 3 && (await polls(BOXES[1])) >= before[1] + 3 &&
        JSON.stringify(await nowText()) !== JSON.stringify(seen), 20000));
    check("... and are still up",
      (await section(page, BOXES[0]).getAttribute("data-state")) === "up" &&
      (await section(page, BOXES[1]).getAttribute("data-state")) === "up" &&
      /2 of 3 up · 4 cameras/.test(await page.locator("#summary").textContent()),
      await page.locator("#summary").textContent());
    await page.screenshot({ path: path.join(args.out, "fleet-down.png"), fullPage: true });
    runBox(BOXES[2]);
    check("the killed box, started again, is back by itself",
      await until(async () => (await section(page, BOXES[2]).getAttribute("data-state")) === "up" &&
        (await section(page, BOXES[2]).locator(".card .badge").allTextContents()).every((b) => b === "running"), 20000));
    check("no script error on the page", pageErrors.length === 0, pageErrors.join("; "));
  } finally {
    await browser.close();
    for (const box of BOXES) {
      if (box.proc && box.proc.exitCode === null && box.proc.signalCode === null) {
        box.proc.kill("SIGTERM");
        await new Promise((r) => box.proc.once("exit", r));
      }
      if (counts.failed) console.error(fs.readFileSync(path.join(box.dir, "crtd.log"), "utf8").slice(-2000));
      fs.rmSync(box.dir, { recursive: true, force: true });
    }
  }
  finish();
}

main().catch((e) => { console.error(e); process.exit(1); });
