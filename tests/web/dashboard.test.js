// The dashboard in a real browser: Debian's Chromium, headless, driven by
// playwright-core and kept off the network, against the real crtd with two
// generated streams and an API token. Fails on any console error.
//
//   node tests/web/dashboard.test.js --crtd BUILD/daemon/crtd --out DIR [--screenshot FILE]
//
// DIR receives dashboard.png (the test's artifact); --screenshot also writes
// the picture there (docs/dashboard.png is made this way).
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const { chromium } = require(path.join(root, "third_party", "npm", "node_modules", "playwright-core"));

const TOKEN = "dashboard-test-token-0123456789";
const { parseArgs, counts, check, finish, sleep, until, freePort } = require("./testlib");

const args = parseArgs(process.argv.slice(2));
function apiGet(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: p, headers: { Authorization: `Bearer ${TOKEN}` } },
      (res) => { let body = ""; res.on("data", (d) => body += d); res.on("end", () => resolve(JSON.parse(body))); })
      .on("error", reject);
  });
}

function apiSend(port, method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? "" : JSON.stringify(body);
    const req = http.request({ host: "127.0.0.1", port, path: p, method,
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(data) } },
    (res) => { let text = ""; res.on("data", (d) => text += d); res.on("end", () => resolve(res.statusCode)); });
    req.on("error", reject);
    req.end(data);
  });
}

function startCrtd(dir, port) {
  const log = fs.openSync(path.join(dir, "crtd.log"), "a");
  const crtd = spawn(args.crtd, ["--config", path.join(dir, "crtd.conf"), "--listen", `127.0.0.1:${port}`,
    "--state-dir", path.join(dir, "state"), "--token-file", path.join(dir, "token"),
    "--stream", "kitchen=synthetic:script=Walk*4,Sitdown*4&person=2:Readbook*8&segment_ms=250",
    "--stream", "hall=synthetic:script=Readbook*6,none*2&segment_ms=300"],
  { stdio: ["ignore", log, log] });
  return crtd;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crtd-dashboard-"));
  fs.writeFileSync(path.join(dir, "token"), TOKEN + "\n", { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "crtd.conf"), "[daemon]\nhysteresis_s = 0\n[server]\nsse_heartbeat_s = 1\n" +
    "[rule \"sofa\"]\nkind = in_zone_longer\nstream = kitchen\nzone = sofa\nseconds = 1\n");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let crtd = startCrtd(dir, port);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Off the network: only 127.0.0.1 resolves, and Chromium's own
    // background traffic (updates, sync, metrics) is off.
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-default-apps",
      "--disable-domain-reliability", "--metrics-recording-only", "--no-proxy-server",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
  });
  try {
    await until(async () => (await apiGet(port, "/v1/streams")).streams.length === 2, 20000);

    // ---- the page with the token already given --------------------------------
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.addInitScript((t) => sessionStorage.setItem("crtd-token", t), TOKEN);
    const page = await context.newPage();
    const consoleErrors = [], foreign = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`); });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    page.on("request", (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });
    await page.goto(base + "/");
    await page.evaluate(() => { window.loadedOnce = true; });

    const cards = page.locator("article.card");
    check("the page lists both streams",
      await until(async () => (await cards.count()) === 2, 10000) &&
      await page.locator('[aria-label="Camera kitchen"]').isVisible() &&
      await page.locator('[aria-label="Camera hall"]').isVisible());
    const now = page.locator('[aria-label="Camera kitchen"] .now');
    check("an activity is shown", await until(async () => /(Walk|Sitdown) · \d+%/.test(await now.textContent()), 10000),
      await now.textContent());
    const first = await now.textContent();
    check(`a live update arrives without a reload (was "${first}")`,
      await until(async () => (await now.textContent()) !== first, 10000) &&
      await page.evaluate(() => window.loadedOnce === true), await now.textContent());
    check("the state badge says running",
      (await page.locator('[aria-label="Camera kitchen"] .badge').textContent()) === "running");
    check("top-3 alternatives with bars",
      await until(async () => (await page.locator('[aria-label="Camera kitchen"] .top3 li').count()) === 3, 5000));
    check("the skeleton is drawn on the canvas", await until(() => page.evaluate(() => {
      const c = document.querySelector('[aria-label="Camera kitchen"] canvas');
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let inked = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) inked++;
      return inked > 200;
    }), 5000));
    check("two skeletons, each in its own colour, from a two-person stream",
      await until(() => page.evaluate(() => {
        const c = document.querySelector('[aria-label="Camera kitchen"] canvas');
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        for (let i = 0; i < d.length; i += 4)
          if (d[i + 3] === 255) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        // The two persons' inks: #0b5cad and #b3261e.
        return c.dataset.people === "2" && colours.has(0x0b5cad) && colours.has(0xb3261e);
      }), 5000));
    check("the timeline has coloured intervals and a legend",
      await until(async () => (await page.locator('[aria-label="Camera kitchen"] .timeline span').count()) > 1 &&
        (await page.locator("#legend span").count()) >= 2, 10000));
    check("the last frame's age is shown",
      /reconnects · last frame \d+ s ago/.test(await page.locator('[aria-label="Camera kitchen"] .meta').textContent()));

    // Add and remove a stream through the form.
    await page.fill("#add-name", "porch");
    await page.fill("#add-url", "synthetic:script=Walk&segment_ms=200");
    await page.click("#add-form button[type=submit]");
    const porch = page.locator('[aria-label="Camera porch"]');
    check("a stream added through the form appears",
      await until(() => porch.isVisible(), 10000) &&
      (await apiGet(port, "/v1/streams")).streams.some((s) => s.name === "porch"));
    await porch.locator("button.remove").click();
    check("... and is removed with its button",
      await until(async () => (await porch.count()) === 0, 10000) &&
      !(await apiGet(port, "/v1/streams")).streams.some((s) => s.name === "porch"));
    // Pause and resume from the card; the place comes from the stream's room and site.
    check("a stream with a room and a site is added through the API",
      await apiSend(port, "POST", "/v1/streams",
        { name: "den", url: "synthetic:script=Walk&segment_ms=200", room: "Den", site: "Flat 2" }) === 201);
    const den = page.locator('[aria-label="Camera den"]');
    check("... its card names the room and the site",
      await until(async () => (await den.count()) === 1 &&
        (await den.locator(".place").textContent()) === "Den · Flat 2", 10000));
    await den.locator("button.pause").click();
    check("the Pause button pauses it: the badge says paused, the API agrees, the button offers Resume",
      await until(async () => (await den.locator(".badge").textContent()) === "paused" &&
        (await apiGet(port, "/v1/streams/den")).paused === true &&
        (await den.locator("button.pause").textContent()) === "Resume", 10000));
    await den.locator("button.pause").click();
    check("... and Resume starts it again",
      await until(async () => (await apiGet(port, "/v1/streams/den")).paused === false &&
        (await den.locator(".badge").textContent()) === "running", 15000),
      await den.locator(".badge").textContent());
    check("streams without a room show no place line",
      !(await page.locator('[aria-label="Camera kitchen"] .place').isVisible()));
    await den.locator("button.remove").click();
    await until(async () => (await den.count()) === 0, 10000);
    check("streams from the command line have no remove button",
      !(await page.locator('[aria-label="Camera kitchen"] button.remove').isVisible()));

    // ---- zones and alerts ----------------------------------------------------------
    check("a zone put through the API",
      await apiSend(port, "PUT", "/v1/streams/kitchen/zones/sofa",
        { kind: "seat", points: [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]] }) === 201);
    check("... is drawn on the skeleton view, in its kind's colour",
      await until(() => page.evaluate(() => {
        const c = document.querySelector('[aria-label="Camera kitchen"] canvas');
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4)
          if (d[i + 3] === 255 && ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) === 0x00838f) return true;
        return false;
      }), 8000));
    const banner = page.locator("#alert-banner");
    check("an alert (in the sofa zone for longer than 1 s) shows in the banner",
      await until(async () => await banner.isVisible() &&
        /kitchen: person \d+ has been in zone sofa/.test(await banner.textContent()), 15000),
      await banner.textContent());
    check("... and in the list of alerts",
      await until(async () => /active/.test(await page.locator("#alerts").textContent()), 5000));
    for (let i = 0; i < 10 && await banner.isVisible(); i++) {
      const ack = banner.locator("button.ack").first();
      if (await ack.count()) await ack.click();
      await sleep(300);
    }
    const sofa = (await apiGet(port, "/v1/alerts?rule=sofa&state=open")).alerts;
    check("the Acknowledge button acknowledges it: the banner goes, the API says acknowledged",
      !(await banner.isVisible()) && sofa.length > 0 &&
      sofa.every((a) => a.state === "acknowledged" && a.acknowledged_by === "dashboard"),
      JSON.stringify(sofa.map((a) => [a.id, a.state])));
    check("... and the list says so",
      /acknowledged by dashboard/.test(await page.locator("#alerts").textContent()));

    // A zone drawn by hand on the hall's skeleton view.
    const hall = page.locator('[aria-label="Camera hall"]');
    await hall.locator("button.draw").click();
    const box = await hall.locator("canvas").boundingBox();
    for (const [x, y] of [[0.1, 0.6], [0.5, 0.6], [0.5, 0.95]])
      await page.mouse.click(box.x + x * box.width, box.y + y * box.height);
    await hall.locator(".zone-name").fill("rug");
    await hall.locator(".zone-kind").selectOption("floor");
    await hall.locator(".zone-form button[type=submit]").click();
    const drawnZone = async () => (await apiGet(port, "/v1/streams/hall/zones")).zones.find((z) => z.name === "rug");
    check("a zone drawn on the skeleton view is saved through the API",
      await until(async () => { const z = await drawnZone(); return z && z.kind === "floor" && z.points.length === 3; }, 5000),
      JSON.stringify(await drawnZone()));
    check("... and the drawing tools close",
      await until(async () => await hall.locator("button.draw").isVisible() &&
        !(await hall.locator(".zone-form").isVisible()), 3000),
      await hall.locator(".zone-tools").innerHTML());

    // Labels: a stretch dragged on the kitchen's timeline, labelled with a
    // new class, refused where it would overlap, edited, deleted.
    const kitchen = page.locator('[aria-label="Camera kitchen"]');
    const tl = await kitchen.locator(".timeline").boundingBox();
    await page.mouse.move(tl.x + tl.width * 0.9, tl.y + tl.height / 2);
    await page.mouse.down();
    await page.mouse.move(tl.x + tl.width * 0.95, tl.y + tl.height / 2, { steps: 4 });
    await page.mouse.move(tl.x + tl.width - 1, tl.y + tl.height / 2, { steps: 4 });
    await page.mouse.up();
    check("a stretch dragged on the timeline is selected and opens the label form",
      await until(async () => await kitchen.locator(".label-form").isVisible() &&
        (await kitchen.locator(".timeline .selection").count()) === 1, 3000));
    await kitchen.locator(".label-class").fill("Feeds the cat");
    await kitchen.locator(".label-form button[type=submit]").click();
    const stored = async () => (await apiGet(port, "/v1/labels?stream=kitchen")).labels;
    check("the label is stored through the API, with the archived keypoints of the stretch",
      await until(async () => {
        const l = await stored();
        return l.length === 1 && l[0].class === "Feeds the cat" && l[0].frames > 0 &&
          l[0].track === null && l[0].new_class === true && !l[0].not;
      }, 5000), JSON.stringify(await stored()));
    check("... it is marked on the timeline",
      await until(async () => (await kitchen.locator(".timeline .label-mark").count()) === 1, 6000));
    check("... the form closes and the list shows it",
      await until(async () => !(await kitchen.locator(".label-form").isVisible()) &&
        /kitchen, everyone, .*Feeds the cat \(new\)/.test(await page.locator("#labels").textContent()), 6000),
      await page.locator("#labels").textContent());
    // The same stretch again for one person: it overlaps, and the form says so.
    await kitchen.locator(".label-open").click();
    await kitchen.locator(".label-class").fill("Walk");
    await kitchen.locator(".label-form button[type=submit]").click();
    check("an overlapping label is refused, the form saying why",
      await until(async () => /Not saved: .*overlaps label/.test(await kitchen.locator(".label-error").textContent()), 5000) &&
        (await stored()).length === 1, await kitchen.locator(".label-error").textContent());
    await kitchen.locator(".label-form .cancel").click();
    // Edit: "not Walk" (a correction).
    const row = page.locator("#labels li").first();
    await row.locator(".label-edit").click();
    await row.locator(".label-class").fill("Walk");
    await row.locator(".label-not").check();
    await row.locator("button[type=submit]").click();
    check("a label edited in the list is changed through the API",
      await until(async () => { const l = await stored(); return l.length === 1 && l[0].class === "Walk" && l[0].not; }, 5000) &&
      await until(async () => /not Walk/.test(await page.locator("#labels").textContent()), 6000),
      JSON.stringify(await stored()));
    await page.locator("#labels li .label-delete").first().click();
    check("... and deleted",
      await until(async () => (await stored()).length === 0 && await page.locator("#labels-empty").isVisible(), 5000));

    // Keyboard: Tab reaches the form's first field.
    await page.keyboard.press("Escape");
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement && document.activeElement.id === "add-name");
    }
    check("the keyboard reaches the add form", reached);

    // Readable contrast (WCAG AA, 4.5:1) for every kind of text on the page.
    const contrasts = await page.evaluate(() => {
      const rgb = (c) => c.match(/[\d.]+/g).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const background = (e) => {
        for (; e; e = e.parentElement) {
          const c = getComputedStyle(e).backgroundColor;
          if (rgb(c)[3] !== 0 && c !== "transparent") return rgb(c);
        }
        return [255, 255, 255];
      };
      const out = [];
      for (const sel of ["h1", ".top a", ".live", "h3 span", ".badge", ".meta", ".now", ".since",
        ".top3 li span", ".axis span", ".legend span", "label", "button", "#add-form h2",
        "#alerts .state", "#alerts .when", "#alerts-title"]) {
        const e = document.querySelector(sel);
        if (!e) { out.push([sel, 0]); continue; }
        const a = lum(rgb(getComputedStyle(e).color)), b = lum(background(e));
        out.push([sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
      }
      return out;
    });
    const low = contrasts.filter(([, r]) => r < 4.5);
    check(`text contrast 4.5:1 or more (lowest ${Math.min(...contrasts.map(([, r]) => r)).toFixed(1)})`,
      low.length === 0, JSON.stringify(low));

    const shot = path.join(args.out || dir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (args.screenshot) fs.copyFileSync(shot, args.screenshot);
    check(`screenshot saved (${shot})`, fs.statSync(shot).size > 10000);

    // The model card on the second view.
    await page.click("#nav-model");
    check("the model view shows the model card and its classes",
      await until(async () => (await page.locator("#model-classes li").count()) > 1 &&
        /gru|ncgru/.test(await page.locator("#model-card").textContent()), 5000) &&
      !(await page.locator("#view-streams").isVisible()));
    await page.click("#nav-streams");

    // A phone-sized screen: nothing wider than it.
    await page.setViewportSize({ width: 375, height: 740 });
    await sleep(300);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`fits a 375 px wide screen (scrollWidth ${width})`, width <= 375);

    // Chromium logs every 4xx answer as an error: the overlapping label's 409
    // was asked for above.
    const unexpected = consoleErrors.filter((e) => !/status of 409 \(Conflict\) \(.*\/v1\/labels\)$/.test(e));
    check("no console error", unexpected.length === 0, unexpected.join(" | "));
    check("no request left 127.0.0.1", foreign.length === 0, foreign.join(" "));

    // ---- crtd goes away and comes back ------------------------------------------
    crtd.kill("SIGTERM");
    await new Promise((r) => crtd.once("exit", r));
    check("the page says when the connection to crtd is lost",
      await until(() => page.locator("#banner").isVisible(), 15000));
    crtd = startCrtd(dir, port);
    check("... and recovers by itself when crtd is back",
      await until(async () => !(await page.locator("#banner").isVisible()) &&
        (await cards.count()) === 2, 30000));
    await context.close();

    // ---- the token asked for by the page ------------------------------------------
    const fresh = await browser.newPage();
    const freshErrors = [];
    fresh.on("console", (m) => {
      // The first requests are refused before the token is given; that is all.
      if (m.type() === "error" && !/status of 401/.test(m.text())) freshErrors.push(m.text());
    });
    fresh.on("pageerror", (e) => freshErrors.push(e.message));
    await fresh.goto(base + "/");
    check("without a token the page asks for it",
      await until(() => fresh.locator("#token-form").isVisible(), 10000));
    await fresh.fill("#token", TOKEN);
    await fresh.press("#token", "Enter");
    check("... and lists the streams once given",
      await until(async () => (await fresh.locator("article.card").count()) === 2, 10000));
    check("no other console error on that page", freshErrors.length === 0, freshErrors.join(" | "));

    // ---- real footage: several people walking, through MultiPose -----------------
    // opencv-doc's vtest.avi (scripts/setup) played as a camera by a second crtd
    // with the project's default model and MoveNet MultiPose at side 384.
    const footage = path.join(root, "third_party", "images", "vtest.avi");
    const multipose = path.join(root, "third_party", "models", "movenet-multipose.json");
    const roadDir = fs.mkdtempSync(path.join(os.tmpdir(), "crtd-dashboard-road-"));
    fs.writeFileSync(path.join(roadDir, "token"), TOKEN + "\n", { mode: 0o600 });
    fs.writeFileSync(path.join(roadDir, "crtd.conf"),
      `[daemon]\nmodel = ${path.join(root, "models", "default.safetensors")}\n` +
      `pose_model = ${multipose}\nmultipose_side = 384\n[server]\nsse_heartbeat_s = 1\n`);
    const roadPort = await freePort();
    const roadLog = fs.openSync(path.join(roadDir, "crtd.log"), "a");
    const road = spawn(args.crtd, ["--config", path.join(roadDir, "crtd.conf"),
      "--listen", `127.0.0.1:${roadPort}`, "--state-dir", path.join(roadDir, "state"),
      "--token-file", path.join(roadDir, "token"), "--stream", `road=${footage}`],
    { stdio: ["ignore", roadLog, roadLog] });
    try {
      // Ids seen at each poll of /people over about 20 s.
      const polls = [];
      await until(async () => {
        const j = await apiGet(roadPort, "/v1/streams/road/people");
        polls.push({ at: Date.now(), ids: (j.people || []).map((p) => p.id) });
        return polls.length >= 2 && polls[polls.length - 1].at - polls[0].at > 20000;
      }, 60000, 1000);
      const most = Math.max(0, ...polls.map((p) => p.ids.length));
      check(`vtest.avi: /people shows more than one person at once (at most ${most})`, most >= 2);
      // An id still there 4 s after it was first listed: the same person kept it.
      const firstSeen = new Map();
      let kept = 0;
      for (const p of polls)
        for (const id of p.ids) {
          if (!firstSeen.has(id)) firstSeen.set(id, p.at);
          else if (p.at - firstSeen.get(id) >= 4000) { kept++; firstSeen.set(id, Infinity); }
        }
      check(`vtest.avi: ids stay with their people (${kept} ids kept for 4 s or more, ` +
        `${firstSeen.size} seen)`, kept >= 2);
      const roadPage = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      await roadPage.addInitScript((t) => sessionStorage.setItem("crtd-token", t), TOKEN);
      await roadPage.goto(`http://127.0.0.1:${roadPort}/`);
      check("vtest.avi: the dashboard draws several skeletons in their own colours",
        await until(() => roadPage.evaluate(() => {
          const c = document.querySelector('[aria-label="Camera road"] canvas');
          if (!c || Number(c.dataset.people) < 2) return false;
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          const inks = new Set([0x0b5cad, 0xb3261e, 0x1e7b34, 0x8a4fb5, 0xb86e00, 0x00838f]);
          const seen = new Set();
          for (let i = 0; i < d.length; i += 4) {
            const rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
            if (d[i + 3] === 255 && inks.has(rgb)) seen.add(rgb);
          }
          return seen.size >= 2;
        }), 20000));
      await roadPage.screenshot({ path: path.join(args.out || dir, "dashboard-road.png") });
      await roadPage.close();
    } finally {
      road.kill("SIGTERM");
      await new Promise((r) => road.once("exit", r));
      if (counts.failed) console.error(fs.readFileSync(path.join(roadDir, "crtd.log"), "utf8").slice(-3000));
      fs.rmSync(roadDir, { recursive: true, force: true });
    }
  } finally {
    await browser.close();
    crtd.kill("SIGTERM");
    await sleep(300);
    if (counts.failed) console.error(fs.readFileSync(path.join(dir, "crtd.log"), "utf8").slice(-3000));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  finish();
}

main().catch((e) => { console.error(e); process.exit(1); });
