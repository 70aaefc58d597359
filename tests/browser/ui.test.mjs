// The web UI in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// search, zoom the histogram, expand a trace and its surrounding lines, open an exception
// group; once over plain HTTP (`stackfold demo`) and once over HTTPS with Basic auth
// (`stackfold serve --tls-cert --tls-key --basic-auth-file`). Screenshots go to artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const binary = process.env.STACKFOLD_BIN || join(root, "target", "debug", "stackfold");
const artifacts = join(here, "artifacts");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });

const servers = [];
let browser;

// Starts stackfold with `args`; resolves with the URL it prints once listening.
function start(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    servers.push(child);
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      const url = String(d).split("\n").find((l) => l.startsWith("http"));
      if (url) resolve(url.trim());
    });
    child.on("exit", (code) => reject(new Error(`stackfold ${args[0]} exited with ${code}: ${err}`)));
  });
}

before(async () => {
  assert.ok(existsSync(binary), `build stackfold first (cargo build): ${binary}`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.kill("SIGTERM");
});

// The user journey shared by both servers. `copies`: how many times the index holds the
// 1.4.2 billing log (the HTTPS server indexes its gzip and zstd twins too; the demo does not).
async function journey(page, base, label, copies) {
  await page.goto(`${base}#/search`);
  await page.waitForSelector(".hit");
  await page.fill("#q", "PaymentClient");
  await page.press("#q", "Enter");
  await page.waitForFunction((n) => new RegExp(`^${n} events`).test(document.querySelector("#total")?.textContent || ""),
    2 * copies + 2);
  assert.ok((await page.locator(".hit .snippet b").count()) > 0, "matched terms are highlighted");
  assert.match(page.url(), /q=PaymentClient/, "the query is in the URL");
  await page.screenshot({ path: join(artifacts, `${label}-search.png`), fullPage: true });

  // Expand a trace: newlines kept, in-app frames marked, surrounding lines on demand.
  await page.locator(".hit").first().click();
  const trace = page.locator(".hit .details .trace").first();
  await trace.waitFor();
  assert.match(await trace.textContent(), /Caused by: java\.lang\.IllegalStateException/);
  assert.ok((await page.locator(".hit .details .trace .inapp").count()) > 0, "in-app frames are marked");
  await page.locator(".hit .details a[data-context]").first().click();
  await page.waitForSelector(".context .line.in");
  await page.screenshot({ path: join(artifacts, `${label}-trace.png`), fullPage: true });

  // Click a field value into a filter, then drag across the histogram to zoom.
  await page.locator('#fields a[data-field="host"]', { hasText: "web02" }).click();
  await page.waitForFunction(() => location.hash.includes("host=web02"));
  await page.waitForFunction(() => /^2 events/.test(document.querySelector("#total")?.textContent || ""));
  const box = await page.locator("#hist svg").boundingBox();
  await page.mouse.move(box.x + 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => /from=.*to=/.test(location.hash));

  // The exception list, then one group.
  await page.goto(`${base}#/exceptions`);
  await page.waitForSelector("tr.group");
  await page.screenshot({ path: join(artifacts, `${label}-exceptions.png`), fullPage: true });
  await page.locator("tr.group", { hasText: "java.lang.IllegalStateException" }).first().click();
  await page.waitForSelector("h2.type");
  assert.equal((await page.textContent("h2.type")).trim(), "java.lang.IllegalStateException");
  assert.match(await page.textContent(".breakdowns"), new RegExp(`1\\.4\\.2\\s*${2 * copies}`));
  assert.match(await page.textContent(".explain"), /type:java\.lang\.IllegalStateException/);
  assert.ok((await page.locator("#latest .trace .inapp").count()) > 0);
  await page.screenshot({ path: join(artifacts, `${label}-group.png`), fullPage: true });
}

test("demo over HTTP: search, trace, context, exceptions, group", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  // Each event once: the bundled compressed twins of a plain fixture are not indexed again.
  const all = await (await fetch(`${base}api/search?limit=10000`)).json();
  const places = all.hits.map((e) => `${e.source.split("/").pop().replace(/\.(gz|zst)$/, "")}:${e.offset}`);
  assert.equal(new Set(places).size, places.length, "no event is shown twice");
  const page = await browser.newPage();
  await journey(page, base, "http", 1);
  await page.close();
});

test("serve over HTTPS with Basic auth", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stackfold-browser-"));
  const cert = join(dir, "cert.pem"), key = join(dir, "key.pem"), users = join(dir, "users");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  const line = execFileSync(binary, ["passwd", "ops"], { input: "correct horse\n" }).toString();
  writeFileSync(users, line);
  const data = join(dir, "data");
  const fixtures = ["java", "python", "go", "compressed"].map((d) => join(root, "fixtures", d));
  execFileSync(binary, ["index", "--data", data, "--tz", "UTC", ...fixtures], { stdio: "ignore" });
  const base = await start(["serve", "--data", data, "--listen", "127.0.0.1:0",
    "--tls-cert", cert, "--tls-key", key, "--basic-auth-file", users]);
  assert.match(base, /^https:/);

  const anonymous = await browser.newContext({ ignoreHTTPSErrors: true });
  const refused = await anonymous.request.get(`${base}api/exceptions`);
  assert.equal(refused.status(), 401);
  assert.equal((await anonymous.request.get(`${base}healthz`)).status(), 200);
  const wrong = await browser.newContext({ ignoreHTTPSErrors: true, httpCredentials: { username: "ops", password: "nope" } });
  assert.equal((await wrong.request.get(`${base}api/search`)).status(), 401);

  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    httpCredentials: { username: "ops", password: "correct horse" },
  });
  const page = await context.newPage();
  await journey(page, base, "https", 3);
  await context.close();
  await anonymous.close();
  await wrong.close();
});

test("run: tail and serve from one config; live search and live group counts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stackfold-live-"));
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const log = join(logs, "orders.log");
  const line = (n, level = "INFO ", rest = "") =>
    `2024-03-01 10:00:${String(n).padStart(2, "0")},000 ${level} [main] com.acme.Orders - order ${n} placed${rest}\n`;
  const failure = (n) => line(n, "ERROR", " failed") +
    "java.lang.IllegalStateException: stock is gone\n" +
    `\tat com.acme.Orders.reserve(Orders.java:${40 + n})\n\tat com.acme.Orders.place(Orders.java:12)\n`;
  writeFileSync(log, line(1) + failure(2));
  writeFileSync(join(dir, "stackfold.toml"), [
    "[input]", 'paths = ["logs"]', "",
    "[index]", 'data = "data"', "",
    "[tail]", "commit_interval_ms = 500", "",
    "[server]", 'listen = "127.0.0.1:0"', "",
  ].join("\n"));
  const base = await start(["run", "--config", join(dir, "stackfold.toml")]);
  const page = await browser.newPage();

  // Search with Live on: a line written now shows up on top, without a reload.
  // Wait until both events are in (the trace is flushed once the file is quiet), then
  // turn Live on.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}api/search?q=placed`).then((x) => x.json());
    if (r.total === 2) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  await page.goto(`${base}#/search?q=placed`);
  await page.waitForFunction(() => /^2 events/.test(document.querySelector("#total")?.textContent || ""));
  await page.check("#live");
  await page.waitForFunction(() => /live: 0 new/.test(document.querySelector("#total")?.textContent || ""));
  assert.match(page.url(), /live=1/);
  const { appendFileSync } = await import("node:fs");
  appendFileSync(log, line(3));
  await page.waitForSelector(".hit.arrived", { timeout: 10000 });
  assert.match(await page.locator(".hit").first().textContent(), /order 3 placed/);
  await page.screenshot({ path: join(artifacts, "live-search.png"), fullPage: true });

  // The exception list counts new occurrences as they are indexed.
  await page.goto(`${base}#/exceptions`);
  await page.waitForFunction(() => document.querySelector("tr.group td.count")?.textContent.trim() === "1");
  appendFileSync(log, failure(4) + failure(5));
  await page.waitForFunction(() => document.querySelector("tr.group td.count")?.textContent.trim() === "3",
    null, { timeout: 10000 });
  assert.equal(await page.locator("tr.group").count(), 1, "one problem, one group");
  await page.screenshot({ path: join(artifacts, "live-exceptions.png"), fullPage: true });

  // So does the group's own page.
  await page.locator("tr.group").first().click();
  await page.waitForFunction(() => document.querySelector("#group-count")?.textContent.trim() === "3");
  appendFileSync(log, failure(6));
  await page.waitForFunction(() => document.querySelector("#group-count")?.textContent.trim() === "4",
    null, { timeout: 10000 });
  assert.match(await page.textContent("#group-last"), /10:00:06/);

  // The pattern list too: a warning line written now adds to its pattern.
  const warn = (n) => `2024-03-01 10:00:${String(n).padStart(2, "0")},000 WARN  [main] com.acme.Orders - stock low for item ${n}\n`;
  appendFileSync(log, warn(7));
  await page.goto(`${base}#/patterns`);
  await page.waitForFunction(() => [...document.querySelectorAll("table.patterns tr.group")]
    .some((row) => /stock low/.test(row.textContent) && row.querySelector("td.count").textContent.trim() === "1"),
    null, { timeout: 10000 });
  appendFileSync(log, warn(8) + warn(9));
  await page.waitForFunction(() => [...document.querySelectorAll("table.patterns tr.group")]
    .some((row) => /stock low/.test(row.textContent) && row.querySelector("td.count").textContent.trim() === "3"),
    null, { timeout: 10000 });
  await page.close();
});

test("triage: resolve two groups from the list; a new event brings one back, regressed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stackfold-triage-"));
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const log = join(logs, "orders.log");
  const now = () => new Date().toISOString().replace("T", " ").replace(".", ",").slice(0, 23);
  const failure = (type, n) => `${now()} ERROR [main] com.acme.Orders - order ${n} failed\n` +
    `${type}: stock is gone\n\tat com.acme.Orders.reserve(Orders.java:${40 + n})\n`;
  writeFileSync(log, failure("java.lang.IllegalStateException", 1) + failure("java.io.IOException", 2));
  writeFileSync(join(dir, "stackfold.toml"), [
    "[input]", 'paths = ["logs"]', "",
    "[index]", 'data = "data"', "",
    "[tail]", "commit_interval_ms = 300", "idle_ms = 300", "",
    "[server]", 'listen = "127.0.0.1:0"', "",
  ].join("\n"));
  const base = await start(["run", "--config", join(dir, "stackfold.toml")]);
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}api/exceptions`).then((x) => x.json());
    if (r.groups.length === 2) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  const page = await browser.newPage();
  await page.goto(`${base}#/exceptions`);
  await page.waitForFunction(() => document.querySelectorAll("tr.group").length === 2);
  assert.ok(await page.locator(".bulk button[data-status=resolved]").isDisabled(), "nothing selected yet");
  for (const box of await page.locator("tr.group input.pick").all()) await box.check();
  await page.locator(".bulk button[data-status=resolved]").click();
  await page.waitForSelector("text=No unresolved exceptions");
  assert.equal(await page.locator("tr.group").count(), 0, "resolved groups leave the Unresolved tab");

  await page.getByRole("link", { name: "Resolved", exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll("tr.group").length === 2);
  assert.match(page.url(), /status=resolved/);
  assert.equal(await page.locator("tr.group .status", { hasText: "resolved" }).count(), 2);
  await page.screenshot({ path: join(artifacts, "triage-resolved.png"), fullPage: true });

  // The problem comes back: the group is unresolved again, marked regressed.
  await new Promise((done) => setTimeout(done, 50));
  const { appendFileSync } = await import("node:fs");
  appendFileSync(log, failure("java.io.IOException", 3));
  await page.getByRole("link", { name: "Unresolved", exact: true }).click();
  let rows = 0;
  for (let i = 0; i < 50 && rows === 0; i++) {
    await new Promise((done) => setTimeout(done, 200));
    await page.reload();
    await page.waitForSelector("table.groups");
    rows = await page.locator("tr.group").count();
  }
  assert.equal(rows, 1);
  const row = page.locator("tr.group").first();
  assert.match(await row.textContent(), /java\.io\.IOException/);
  assert.match(await row.locator(".regressed").textContent(), /regressed/);
  await page.screenshot({ path: join(artifacts, "triage-regressed.png"), fullPage: true });

  // The group page says so, and reopens or resolves it again.
  await row.locator(".type").click();
  await page.waitForSelector("#group-status");
  assert.equal((await page.textContent("#group-status")).trim(), "unresolved");
  await page.locator(".triage button[data-status=resolved]").click();
  await page.waitForFunction(() => document.querySelector("#group-status")?.textContent.trim() === "resolved");
  await page.close();
});

test("keyboard only, a phone's width, navigation state, a zoom released outside the chart", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });

  // Keyboard: Tab to a result, Enter expands it.
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector(".hit");
  const tabTo = async (selector) => {
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    }
    throw new Error(`Tab never reached ${selector}`);
  };
  await tabTo(".hit .head");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".hit .details:not([hidden]) .trace");
  assert.equal(await page.getAttribute(".hit .head[aria-expanded=true]", "aria-expanded"), "true");

  // Tab to an exception row, Enter opens its group.
  await page.goto(`${base}#/exceptions`);
  await page.waitForSelector("tr.group");
  await tabTo("a.group-link");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h2.type");
  assert.match(page.url(), /#\/group\/[0-9a-f]{32}/);
  assert.equal((await page.request.get(`${base}favicon.ico`)).status(), 200);

  // The top navigation keeps the time range and filters, and Back returns.
  await page.goto(`${base}#/search?from=-30d&app=billing`);
  await page.waitForSelector("#total");
  await page.click("#nav-exceptions");
  await page.waitForFunction(() => location.hash.startsWith("#/exceptions"));
  assert.match(page.url(), /from=-30d/);
  assert.match(page.url(), /app=billing/);
  await page.goBack();
  await page.waitForFunction(() => location.hash.startsWith("#/search"));

  // A zoom drag released below the chart still zooms; the axis is labelled in time.
  await page.goto(`${base}#/search`);
  await page.waitForSelector("#hist svg");
  assert.equal(await page.locator("#hist .axis span").count(), 5);
  assert.doesNotMatch(await page.textContent("#hmeta"), /\d+s\b/, "the interval in words");
  const box = await page.locator("#hist svg").boundingBox();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height + 150, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => /from=.*to=/.test(location.hash));
  // A click without a drag, released elsewhere, leaves no selection behind.
  await page.waitForSelector("#hist svg");
  const again = await page.locator("#hist svg").boundingBox();
  await page.mouse.move(again.x + 40, again.y + 20);
  await page.mouse.down();
  await page.mouse.move(again.x + 41, again.y + again.height + 100);
  await page.mouse.up();
  assert.equal(await page.getAttribute("#hist rect.sel", "width"), "0");

  // Every page at 1440 px and at 390 px, and no page scrolls sideways at 390 px.
  const pages = [["search", "#/search?q=PaymentClient"], ["exceptions", "#/exceptions"], ["alerts", "#/alerts"]];
  const group = await (await fetch(`${base}api/exceptions?limit=1`)).json();
  pages.push(["group", `#/group/${group.groups[0].fingerprint}`]);
  const oneEvent = await (await fetch(`${base}api/search?q=PaymentClient&limit=1`)).json();
  pages.push(["event", `#/event/${oneEvent.hits[0].id}`]);
  for (const [width, height] of [[1440, 900], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const [name, hash] of pages) {
      await page.goto(`${base}${hash}`);
      const ready = { alerts: "table.alerts", group: "h2.type", search: ".hit", event: "#event .context", exceptions: "tr.group" };
      await page.waitForSelector(ready[name]);
      if (name === "search") await page.locator(".hit .head").first().click();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (width === 390) assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow} px at 390 px`);
      // axe-core: no serious or critical accessibility violation.
      await page.addScriptTag({ path: join(here, "node_modules", "axe-core", "axe.min.js") });
      const violations = await page.evaluate(async () => {
        const result = await window.axe.run(document, { resultTypes: ["violations"] });
        return result.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
      });
      assert.deepEqual(violations, [], `${name} at ${width} px`);
      await page.screenshot({ path: join(artifacts, `${name}-${width}.png`), fullPage: true });
    }
  }
  await page.close();
});

test("empty and error states, relative times, a Go dump's other goroutines folded", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });

  // Nothing in the range: a hint to widen it, which works.
  await page.goto(`${base}#/search?q=PaymentClient&from=-1h`);
  await page.waitForSelector(".empty #data-range");
  await page.click("#data-range");
  await page.waitForFunction(() => /from=.*to=/.test(location.hash));
  await page.waitForFunction(() => /^[1-9]\d* events/.test(document.querySelector("#total")?.textContent || ""));
  await page.goto(`${base}#/search?q=PaymentClient&from=-1h`);
  await page.waitForSelector(".empty");
  await page.click("text=Search all time");
  await page.waitForFunction(() => !location.hash.includes("from="));
  await page.waitForSelector(".hit");

  // A query syntax error: said once, where the query can be fixed.
  await page.goto(`${base}#/search?q=${encodeURIComponent("level:ERROR AND (")}`);
  await page.waitForSelector(".error-inline");
  const said = await page.textContent(".error-inline");
  assert.ok((said.match(/position/g) || []).length <= 1, said);
  assert.equal(await page.inputValue("#q"), "level:ERROR AND (");

  // A bad group link does not leave the previous view on screen.
  await page.goto(`${base}#/exceptions`);
  await page.waitForSelector("tr.group");
  assert.match(await page.textContent("tr.group td:last-child"), /ago|just now/);
  assert.ok(await page.getAttribute("tr.group td:last-child time", "title"), "the exact time on hover");
  await page.goto(`${base}#/group/00000000000000000000000000000000`);
  await page.waitForSelector(".error-inline");
  assert.equal(await page.locator("tr.group").count(), 0);

  // A Go panic with many goroutines: the panicking one shown, the others folded.
  const all = await (await fetch(`${base}api/exceptions?status=all&limit=500`)).json();
  let go = null;
  for (const g of all.groups.filter((g) => g.language === "go")) {
    const detail = await (await fetch(`${base}api/exceptions/${g.fingerprint}`)).json();
    if ((detail.latest.text.match(/^goroutine \d+ \[/gm) || []).length > 2) {
      go = g;
      break;
    }
  }
  assert.ok(go, "the demo has a Go dump of many goroutines");
  await page.goto(`${base}#/group/${go.fingerprint}`);
  await page.waitForSelector("#latest .trace");
  assert.equal(await page.locator("#latest details.goroutines").count(), 1);
  assert.ok(!(await page.locator("#latest details.goroutines").getAttribute("open")));
  assert.ok((await page.locator("#latest .trace .inapp").count()) > 0, "the Go dump's own frames are marked");
  const height = (await page.locator("#latest .trace").boundingBox()).height;
  assert.ok(height < 2500, `the trace is ${height} px tall`);

  // A group's page: a breakdown value filters it; "all N events" searches them.
  const billing = all.groups.find((g) => g.root_type === "java.lang.IllegalStateException");
  await page.goto(`${base}#/group/${billing.fingerprint}`);
  await page.waitForSelector(".breakdowns a.bar-row");
  const row = page.locator(".breakdowns a.bar-row", { hasText: "web02" });
  const filtered = Number((await row.locator("> div").last().textContent()).trim());
  await row.click();
  await page.waitForFunction(() => location.hash.includes("host=web02"));
  await page.waitForSelector("#filters .chip");
  await page.waitForFunction((n) => document.querySelector("#group-count")?.textContent.trim() === String(n), filtered);
  assert.equal(await page.locator(".breakdowns .panel:nth-child(3) a.bar-row").count(), 1, "only web02 left");
  await page.click("#all-events");
  await page.waitForFunction((n) => new RegExp(`^${n} events`).test(document.querySelector("#total")?.textContent || ""), filtered);
  assert.match(page.url(), /host=web02/);
  await page.close();
});

test("an event's fields filter for and out, the sidebar excludes, an event has a page of its own", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector(".hit");
  await page.locator(".hit .head").first().click();
  await page.locator(".hit .event-fields button[data-for=host]").first().click();
  await page.waitForFunction(() => /host=web0\d/.test(location.hash));
  await page.waitForSelector(".hit");
  const host = new URL(page.url().replace("#/", "")).searchParams.get("host");
  await page.locator(".hit .head").first().click();
  await page.locator(".hit .event-fields button[data-out=logger]").first().click();
  const query = () => new URLSearchParams(location.hash.split("?")[1] || "").get("q") || "";
  await page.waitForFunction(`(${query})().includes("NOT logger:")`);
  assert.match(page.url(), new RegExp(`host=${host}`), "the filter stays");
  await page.waitForFunction(() => /events/.test(document.querySelector("#total")?.textContent || "") || document.querySelector(".error-inline"));
  assert.equal(await page.locator(".error-inline").count(), 0, "the negated query runs");

  // The sidebar excludes a value.
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector("#fields button[data-out=host]");
  await page.waitForFunction(() => /^\d+ events/.test(document.querySelector("#total")?.textContent || ""));
  const all = await page.locator("#total").textContent();
  await page.locator("#fields button[data-out=host]").first().click();
  await page.waitForFunction(`(${query})().includes('NOT host:"')`);
  await page.waitForFunction(() => /^\d+ events/.test(document.querySelector("#total")?.textContent || "") || document.querySelector(".error-inline"));
  assert.equal(await page.locator(".error-inline").count(), 0, "the exclusion runs");
  // `PaymentClient AND NOT host:"..."` keeps the other hosts' events (it found none before).
  await page.waitForFunction((all) => {
    const total = document.querySelector("#total")?.textContent || "";
    return /^\d+ events/.test(total) && total !== all;
  }, all);
  const left = parseInt(await page.locator("#total").textContent(), 10);
  assert.ok(left > 0 && left < parseInt(all, 10), `${left} of ${all}: the other hosts' events are left`);

  // One event's page, reached from its link: its text, fields and surrounding lines.
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector(".hit");
  await page.locator(".hit .head").first().click();
  await page.locator(".hit a", { hasText: "link to this event" }).first().click();
  await page.waitForFunction(() => location.hash.startsWith("#/event/"));
  await page.waitForSelector("#event .context .line.in");
  assert.ok(await page.locator("#event .trace").first().isVisible());
  const lines = await page.locator("#event .context .line").count();
  await page.click("#event button.more-context[data-dir=before]");
  await page.waitForFunction((n) => document.querySelectorAll("#event .context .line").length > n, lines);

  // A first visit suggests a first query and the Exceptions tab; a match inside the trace
  // shows the message and, below it, where the match is.
  await page.goto(`${base}#/search`);
  await page.waitForSelector(".hint a[href='#/exceptions']");
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector(".hit .snippet-more b");
  await page.close();
});

test("columns of one's choice, sorted; the query box completes fields and values; trend hover", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${base}#/search?q=PaymentClient`);
  await page.waitForSelector(".hit");
  await page.click("details.columns summary");
  await page.check("details.columns input[value=host]");
  await page.waitForFunction(() => location.hash.includes("cols=host"));
  await page.waitForSelector(".hit .col[data-col=host]");
  await page.check("details.columns input[value=level]");
  await page.waitForFunction(() => /cols=level(%2C|,)host/.test(location.hash));
  await page.waitForSelector(".cols-head");
  assert.equal(await page.locator(".cols-head .col").count(), 2);
  await page.click(".cols-head a.col:has-text('host')");
  await page.waitForFunction(() => location.hash.includes("csort=host"));
  await page.waitForSelector(".hit .col[data-col=host]");
  const hosts = await page.locator(".hit .col[data-col=host]").allTextContents();
  assert.deepEqual(hosts, [...hosts].sort(), "sorted by host");
  await page.click(".cols-head a.col:has-text('host')");
  await page.waitForFunction(() => location.hash.includes("csort=host%3Adesc") || location.hash.includes("csort=host:desc"));
  await page.waitForSelector(".hit .col[data-col=host]");
  const down = await page.locator(".hit .col[data-col=host]").allTextContents();
  assert.deepEqual(down, [...down].sort().reverse(), "and back");

  // Completion of the last word: a field name, then its values.
  await page.fill("#q", "PaymentClient AND lev");
  await page.dispatchEvent("#q", "input");
  assert.ok(await page.locator("#q-suggestions option[value='PaymentClient AND level:']").count());
  await page.fill("#q", "PaymentClient AND level:E");
  await page.dispatchEvent("#q", "input");
  assert.ok(await page.locator("#q-suggestions option[value='PaymentClient AND level:ERROR']").count());

  // Auto-refresh is a choice kept in the URL.
  await page.selectOption("#refresh", "60");
  await page.waitForFunction(() => location.hash.includes("refresh=60"));

  // The exception list's trend says its buckets' counts on hover.
  await page.goto(`${base}#/exceptions`);
  await page.waitForSelector("tr.group svg.spark");
  assert.match(await page.locator("tr.group svg.spark rect.tip title").first().textContent(), /\d+ events? from \d{4}-/);
  await page.close();
});

test("patterns: the list by level, a pattern's page, its events in search", async () => {
  const base = await start(["demo", "--listen", "127.0.0.1:0"]);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = await (await fetch(`${base}api/patterns?level=ERROR,FATAL`)).json();
  const warned = await (await fetch(`${base}api/patterns?level=WARN,ERROR,FATAL`)).json();
  assert.ok(errors.patterns.length > 0 && warned.patterns.length > errors.patterns.length);

  // Errors and warnings by default, most frequent first, each with its trend.
  await page.goto(`${base}#/search`);
  await page.click("#nav-patterns");
  await page.waitForSelector("table.patterns tr.group");
  assert.equal(await page.locator("table.patterns tr.group").count(), warned.patterns.length);
  assert.equal((await page.textContent("table.patterns tr.group td.count")).trim(), String(warned.patterns[0].count));
  assert.ok(await page.locator("table.patterns tr.group svg").count() > 0, "trends are drawn");

  // The Errors tab narrows the list.
  await page.click("nav.tabs >> text=Errors");
  await page.waitForFunction((n) => document.querySelectorAll("table.patterns tr.group").length === n, errors.patterns.length);
  const top = errors.patterns[0];
  await page.screenshot({ path: join(artifacts, "patterns.png"), fullPage: true });

  // A pattern's page: its template, count, example; "all N events" searches them.
  await page.click(`tr[data-id="${top.id}"] a.pattern-link`);
  await page.waitForSelector("#view .pattern-template");
  assert.equal(await page.textContent("#view .pattern-template"), top.template);
  assert.equal(await page.textContent("#example"), top.example);
  assert.ok(await page.locator(".breakdowns a.bar-row").count() > 0);
  await page.click("#all-events");
  await page.waitForFunction((n) => new RegExp(`^${n} events?`).test(document.querySelector("#total")?.textContent || ""), top.count);
  assert.match(decodeURIComponent(page.url()), new RegExp(`pattern:${top.id}`));

  // From an event back to its pattern.
  await page.click(".hit .head");
  await page.waitForSelector(".details a.pattern-of");
  await page.click(".details a.pattern-of");
  await page.waitForSelector("#view .pattern-template");
  assert.equal(await page.textContent("#view .pattern-template"), top.template);

  // Triage, as for a group: ignored, it leaves the list; its tab lists it; reopened, it is back.
  await page.click("#view .triage button[data-status=ignored]");
  await page.waitForFunction(() => document.querySelector("#group-status")?.textContent === "ignored");
  await page.waitForFunction(() => /set ignored by anonymous/.test(document.querySelector("#view .triage")?.textContent || ""));
  await page.click("#nav-patterns");
  await page.click("nav.tabs >> text=Errors");
  await page.waitForFunction((n) => document.querySelectorAll("table.patterns tr.group").length === n - 1, errors.patterns.length);
  assert.equal(await page.locator(`tr[data-id="${top.id}"]`).count(), 0);
  await page.click("nav.tabs[aria-label=Status] >> text=Ignored");
  await page.waitForSelector(`tr[data-id="${top.id}"]`);
  assert.equal(await page.locator("table.patterns tr.group").count(), 1);
  await page.click(`tr[data-id="${top.id}"] a.pattern-link`);
  await page.click("#view .triage button[data-status=unresolved]");
  await page.waitForFunction(() => document.querySelector("#group-status")?.textContent === "unresolved");
  const after = await (await fetch(`${base}api/patterns?level=ERROR,FATAL`)).json();
  assert.equal(after.patterns.length, errors.patterns.length);
  await page.close();
});
