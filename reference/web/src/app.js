// Reference web client for sessiond.
//
// Firebase signs the user in (here against the Auth emulator); sessiond
// turns the fresh ID token into a server-side session held in an HttpOnly
// cookie. From then on the session, not Firebase's client state, says who
// is signed in:
//
//   - a session is created only right after an explicit sign-in (create
//     needs a recent sign-in anyway); logging in again while a session
//     cookie is present replaces that session ("rotated": true);
//   - on page load the app asks GET /v1/sessions/current; when the
//     session is gone (signed out elsewhere, revoked, expired) it also
//     signs Firebase out instead of silently creating a new session;
//   - signing out deletes the session (DELETE /v1/sessions/current), then
//     signs Firebase out.
//
// The page reads its Firebase settings from ./config.json so the same
// bundle serves any project; sessiond is reached on the same origin
// (a reverse proxy), so fetch sends the cookie without CORS.

import { initializeApp } from "firebase/app";
import {
  getAuth, connectAuthEmulator, createUserWithEmailAndPassword,
  signInWithEmailAndPassword, signOut,
} from "firebase/auth";

const $ = (id) => document.getElementById(id);
const api = (path, init = {}) => fetch(path, { credentials: "same-origin", ...init });

let auth;

// show renders the signed-in or signed-out state and marks the body so
// that tests (and CSS) can wait for it.
function show(session) {
  const signedIn = !!session;
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn;
  $("who").textContent = signedIn
    ? `Signed in as ${session.email || session.user_id} (uid ${session.user_id})`
    : "Signed out";
  $("who").dataset.uid = signedIn ? session.user_id : "";
  document.body.dataset.state = signedIn ? "signed-in" : "signed-out";
}

// report shows an error answer of sessiond (or "" to clear it).
function report(code, message) {
  $("status").dataset.code = code || "";
  $("status").textContent = message || "";
}

async function errorOf(res) {
  try {
    const body = await res.json();
    return { code: body.error || `http_${res.status}`, message: body.message || res.statusText, outcome: body.outcome };
  } catch {
    return { code: `http_${res.status}`, message: res.statusText };
  }
}

// createSession exchanges the signed-in Firebase user's fresh ID token for
// a sessiond session. A session cookie sent along is replaced.
async function createSession() {
  const token = await auth.currentUser.getIdToken(/* forceRefresh */ true);
  const res = await api("/v1/sessions", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ data: { client: "reference-web" } }),
  });
  if (!res.ok) {
    const e = await errorOf(res);
    report(e.code, e.message);
    throw new Error(`create session: ${e.code}`);
  }
  const session = await res.json();
  report("", session.rotated ? "Signed in (your previous session on this browser was ended)." : "Signed in.");
  return session;
}

// current returns the session of this browser's cookie, or null.
async function current() {
  const res = await api("/v1/sessions/current");
  if (res.ok) return res.json();
  const e = await errorOf(res);
  if (res.status !== 401 || e.code !== "no_session") report(e.code, e.message);
  if (res.status === 503) throw new Error(`session check: ${e.code}`);
  return null;
}

async function listDevices() {
  const res = await api("/v1/sessions");
  const ul = $("devices");
  ul.replaceChildren();
  if (!res.ok) return [];
  const { sessions } = await res.json();
  for (const s of sessions) {
    const li = document.createElement("li");
    li.dataset.id = s.id;
    li.className = s.current ? "current" : "";
    li.textContent = `${s.current ? "This device" : "Device"} · ${s.user_agent.slice(0, 60)} · last seen ${s.last_seen} `;
    if (!s.current) {
      const b = document.createElement("button");
      b.textContent = "Sign out this device";
      b.className = "sign-out-device";
      b.onclick = () => act(async () => {
        const r = await api(`/v1/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
        if (!r.ok && r.status !== 404) {
          const e = await errorOf(r);
          report(e.code, e.message);
        }
        await refresh();
      });
      li.append(b);
    }
    ul.append(li);
  }
  ul.dataset.count = String(sessions.length);
  return sessions;
}

// refresh shows the session's state; a session gone while Firebase still
// has a user (signed out elsewhere, revoked) signs Firebase out too.
async function refresh() {
  const session = await current();
  if (!session && auth.currentUser) await signOut(auth);
  show(session);
  if (session) await listDevices();
  return session;
}

// act runs a UI action and marks the page busy until it is done, so
// that "data-state" always describes a finished action.
async function act(f) {
  document.body.dataset.state = "busy";
  try {
    await f();
  } catch (err) {
    if (!$("status").dataset.code) report("client_error", String(err.message || err));
    await refresh().catch(() => show(null));
  }
}

async function signInWith(fn) {
  const email = $("email").value, password = $("password").value;
  await fn(auth, email, password);
  await createSession();
  if (!(await refresh())) {
    // Created, but the browser did not send the cookie back: it dropped
    // it. Say so instead of failing silently.
    report("cookie_dropped", "The session was created but this browser did not keep its cookie: a Secure cookie is dropped on plain http " +
      "except on localhost. Use https, open the app on http://localhost, or run sessiond with --dev-insecure-cookie for local development.");
  }
}

async function main() {
  const cfg = await (await fetch("config.json")).json();
  const app = initializeApp({ apiKey: cfg.apiKey, projectId: cfg.projectId, authDomain: cfg.authDomain });
  auth = getAuth(app);
  if (cfg.authEmulatorUrl) connectAuthEmulator(auth, cfg.authEmulatorUrl, { disableWarnings: true });
  await auth.authStateReady();

  $("sign-up").onclick = () => act(() => signInWith(createUserWithEmailAndPassword));
  $("sign-in").onclick = () => act(() => signInWith(signInWithEmailAndPassword));
  $("sign-in-again").onclick = () => act(async () => { await createSession(); await refresh(); });
  $("sign-out").onclick = () => act(async () => {
    const res = await api("/v1/sessions/current", { method: "DELETE" });
    if (!res.ok) {
      const e = await errorOf(res);
      report(e.code, e.message); // e.g. outcome "unknown": the user may retry
      return;
    }
    await signOut(auth);
    report("", "Signed out.");
    show(null);
  });
  $("sign-out-everywhere").onclick = () => act(async () => {
    const res = await api("/v1/sessions", { method: "DELETE" });
    if (!res.ok) {
      const e = await errorOf(res);
      report(e.code, e.message);
      return;
    }
    const { destroyed } = await res.json();
    await signOut(auth);
    report("", `Signed out on ${destroyed} device(s).`);
    show(null);
  });

  // For the end-to-end suite and the console: the same actions.
  window.sbApp = { createSession, refresh, listDevices, auth: () => auth };
  await act(refresh);
}

main().catch((err) => {
  report("client_error", String(err));
  document.body.dataset.state = "error";
});
