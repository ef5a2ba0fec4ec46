// Real-browser end-to-end suite of the reference web client, run by
// TestBrowserSuite (browser_test.go), which starts everything it needs
// and passes: APP_URL (page + API, one origin), EVIL_URL (another site),
// CHROMIUM, EMULATOR_HOST, PROJECT, RECHECK_MS (sessiond --recheck-user).
//
// Each check prints "ok <name>" or throws; the exit code is the verdict.

import { chromium, request } from "playwright-core";
import assert from "node:assert/strict";

const { APP_URL, EVIL_URL, CHROMIUM, EMULATOR_HOST, PROJECT, PLAIN_HTTP_URL, DEV_COOKIE_URL } = process.env;
const RECHECK_MS = Number(process.env.RECHECK_MS || 0);
for (const [k, v] of Object.entries({ APP_URL, EVIL_URL, CHROMIUM, EMULATOR_HOST, PROJECT, PLAIN_HTTP_URL, DEV_COOKIE_URL })) {
  if (!v) throw new Error(`${k} is not set; run this suite through go test (reference/web)`);
}

const t0 = Date.now();
const ok = (name) => console.log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
const COOKIE = "__Host-sid";

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--host-resolver-rules=MAP app.test 127.0.0.1"],
});

// A device is a browser context: its own cookies and storage.
async function device(name, url = APP_URL) {
  const context = await browser.newContext({ userAgent: `sessiond-e2e ${name} (Chromium headless)` });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`[${name}] page error: ${e.message}`));
  await open(page, url);
  return { name, context, page, url };
}

// open loads (or reloads) the app and waits until it shows a finished state.
async function open(page, url = APP_URL) {
  await page.goto(url, { waitUntil: "load" });
  await settled(page);
}

async function settled(page) {
  await page.waitForFunction(() => ["signed-in", "signed-out", "error"].includes(document.body.dataset.state), null, { timeout: 20000 });
  return page.evaluate(() => document.body.dataset.state);
}

// click presses a button and waits until the action has finished.
async function click(page, selector) {
  await page.evaluate(() => { document.body.dataset.state = "busy"; });
  await page.click(selector);
  return settled(page);
}

async function signIn(d, email, how = "#sign-in") {
  await d.page.fill("#email", email);
  await d.page.fill("#password", "password-123");
  const state = await click(d.page, how);
  assert.equal(state, "signed-in", `${d.name}: sign-in ended ${state}: ${await status(d.page)}`);
}

const status = (page) => page.evaluate(() => `${document.getElementById("status").dataset.code} ${document.getElementById("status").textContent}`);
const statusCode = (page) => page.evaluate(() => document.getElementById("status").dataset.code);
const sessionCookie = async (d) => (await d.context.cookies(APP_URL)).find((c) => c.name === COOKIE);
const devices = (page) => page.evaluate(async () => (await window.sbApp.listDevices()).length);
const api = (page, path, init) => page.evaluate(async ([p, i]) => {
  const r = await fetch(p, { credentials: "same-origin", ...i });
  return { status: r.status, body: await r.text() };
}, [path, init || {}]);

// The emulator's admin API, as the Admin SDK would use it.
async function emulatorAdmin(op, body) {
  const r = await fetch(`http://${EMULATOR_HOST}/identitytoolkit.googleapis.com/v1/projects/${PROJECT}/accounts:${op}`, {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer owner" }, body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `emulator ${op}: ${r.status} ${text}`);
  return JSON.parse(text);
}

try {
  // --- Sign-up creates a session held in an HttpOnly cookie.
  const laptop = await device("laptop");
  assert.equal(await settled(laptop.page), "signed-out");
  await signIn(laptop, "alice@example.com", "#sign-up");
  const c1 = await sessionCookie(laptop);
  assert.ok(c1, "no session cookie stored");
  assert.equal(c1.httpOnly, true);
  assert.equal(c1.secure, true);
  assert.equal(c1.sameSite, "Lax");
  assert.equal(c1.path, "/");
  assert.equal(await laptop.page.evaluate(() => document.cookie), "", "document.cookie must not see the session");
  ok("sign-up: session cookie stored, HttpOnly, Secure, SameSite=Lax; document.cookie empty");

  // --- Reloads keep the session and create nothing.
  for (let i = 0; i < 3; i++) {
    await open(laptop.page);
    assert.equal(await settled(laptop.page), "signed-in");
  }
  assert.equal((await sessionCookie(laptop)).value, c1.value, "a reload replaced the session");
  assert.equal(await devices(laptop.page), 1);
  ok("reload keeps the session (same cookie, one device)");

  // --- Repeated login from the same browser rotates, leaves no orphans.
  const seen = new Set([c1.value]);
  for (let i = 0; i < 10; i++) {
    await click(laptop.page, "#sign-in-again");
    assert.match(await status(laptop.page), /previous session on this browser was ended/);
    seen.add((await sessionCookie(laptop)).value);
    await open(laptop.page);
  }
  assert.equal(seen.size, 11, "each login must issue a new session id");
  assert.equal(await devices(laptop.page), 1, "orphans after 10 logins");
  // The naive SPA pattern (POST a fresh token on each load) is safe too.
  for (let i = 0; i < 5; i++) {
    await laptop.page.evaluate(() => window.sbApp.createSession());
  }
  assert.equal(await devices(laptop.page), 1, "orphans after 5 naive logins");
  // The replaced sessions are ended, not merely forgotten by the browser.
  const rq = await request.newContext();
  for (const old of seen) {
    const r = await rq.get(`${APP_URL}/v1/sessions/current`, { headers: { Cookie: `${COOKIE}=${old}` } });
    assert.equal(r.status(), 401, "a replaced session still validates");
    assert.equal((await r.json()).error, "unknown_session");
  }
  await rq.dispose();
  ok("rotation: 10 logins + 10 reloads + 5 naive logins leave one session; the 11 replaced ones are ended");

  // --- A second browser context is a second device.
  const phone = await device("phone");
  await signIn(phone, "alice@example.com");
  assert.equal(await devices(laptop.page), 2);
  const listed = await laptop.page.$$eval("#devices li", (lis) => lis.map((li) => ({ id: li.dataset.id, current: li.className === "current", text: li.textContent })));
  assert.equal(listed.filter((d) => d.current).length, 1);
  assert.ok(listed.some((d) => d.text.includes("phone")), "the phone's user agent is listed");
  ok("two contexts = two devices, each listed, one marked current");

  // --- Log out one device from the other.
  const state = await click(laptop.page, "#devices li:not(.current) .sign-out-device");
  assert.equal(state, "signed-in");
  assert.equal(await devices(laptop.page), 1);
  await open(phone.page);
  assert.equal(await settled(phone.page), "signed-out", "the phone is still signed in after 'sign out this device'");
  assert.equal(await statusCode(phone.page), "unknown_session");
  ok("per-device logout: the phone is signed out on its next load");

  // --- Cross-site requests are refused and change nothing.
  const evil = await laptop.context.newPage();
  await evil.goto(`${EVIL_URL}/`);
  const attack = await evil.evaluate(() => attack());
  for (const [k, v] of Object.entries(attack)) {
    assert.ok(v.startsWith("blocked") || v === "status 403", `cross-site ${k}: ${v}`);
  }
  await Promise.all([evil.waitForNavigation(), evil.evaluate(() => document.getElementById("create").submit())]);
  const formAnswer = await evil.textContent("body");
  assert.match(formAnswer, /cross_origin/, `cross-site form POST answered: ${formAnswer}`);
  await evil.close();
  await open(laptop.page);
  assert.equal(await settled(laptop.page), "signed-in", "a cross-site request ended the session");
  assert.equal(await devices(laptop.page), 1, "a cross-site request created a session");
  ok(`cross-site fetches and form POST refused: ${JSON.stringify(attack)}`);

  // --- Sign out everywhere.
  await signIn(phone, "alice@example.com");
  assert.equal(await devices(laptop.page), 2);
  assert.equal(await click(laptop.page, "#sign-out-everywhere"), "signed-out");
  assert.match(await status(laptop.page), /Signed out on 2 device/);
  await open(phone.page);
  assert.equal(await settled(phone.page), "signed-out");
  ok("sign out everywhere ends both devices");

  // --- Sign out (Firebase signOut + DELETE /v1/sessions/current).
  await signIn(phone, "alice@example.com");
  const before = await sessionCookie(phone);
  assert.equal(await click(phone.page, "#sign-out"), "signed-out");
  assert.equal(await sessionCookie(phone), undefined, "the cookie survived sign-out");
  assert.equal(await phone.page.evaluate(() => window.sbApp.auth().currentUser), null, "Firebase still signed in");
  const after = await api(phone.page, "/v1/sessions/current", {});
  assert.equal(after.status, 401);
  await signIn(laptop, "alice@example.com");
  assert.equal(await devices(laptop.page), 1, "the signed-out session is still listed");
  assert.ok(before.value);
  ok("sign-out deletes the session and the cookie, and signs Firebase out");

  // --- A disabled user's live session ends under --recheck-user.
  const bob = await device("bob");
  await signIn(bob, "bob@example.com", "#sign-up");
  const uid = await bob.page.evaluate(() => document.getElementById("who").dataset.uid);
  await emulatorAdmin("update", { localId: uid, disableUser: true });
  await bob.page.waitForTimeout(RECHECK_MS + 500); // the session must be older than the interval
  await open(bob.page);
  assert.equal(await settled(bob.page), "signed-out", "a disabled user's session still validates");
  assert.equal(await statusCode(bob.page), "user_disabled");
  assert.equal(await sessionCookie(bob), undefined);
  await open(laptop.page);
  assert.equal(await settled(laptop.page), "signed-in", "another user's session was hit");
  ok("--recheck-user: a disabled user's live session ends (401 user_disabled)");

  // --- Plain http on a name other than localhost: the Secure cookie is
  // dropped, and the client says so instead of failing silently...
  const plain = await device("plain-http", PLAIN_HTTP_URL);
  await plain.page.fill("#email", "dave@example.com");
  await plain.page.fill("#password", "password-123");
  assert.equal(await click(plain.page, "#sign-up"), "signed-out");
  assert.equal(await statusCode(plain.page), "cookie_dropped");
  assert.equal((await plain.context.cookies(PLAIN_HTTP_URL)).length, 0);
  // ...and sessiond --dev-insecure-cookie (loopback only) makes it work.
  const dev = await device("dev-cookie", DEV_COOKIE_URL);
  await signIn(dev, "dave@example.com");
  const devCookie = (await dev.context.cookies(DEV_COOKIE_URL)).find((c) => c.name === "sid");
  assert.ok(devCookie && devCookie.httpOnly && !devCookie.secure, `dev cookie: ${JSON.stringify(devCookie)}`);
  await open(dev.page, DEV_COOKIE_URL);
  assert.equal(await settled(dev.page), "signed-in");
  ok("plain http on app.test: Secure cookie dropped (reported); --dev-insecure-cookie works");
} finally {
  await browser.close();
}
console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
