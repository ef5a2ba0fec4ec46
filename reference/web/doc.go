// Package web holds sessiond's reference web client (index.html and
// src/app.js: the Firebase JS SDK signs the user in, sessiond keeps the
// session in an HttpOnly cookie) and its real-browser end-to-end suite
// (e2e/suite.mjs: headless Chromium driven by playwright-core).
//
// There is no Go code to import. TestBrowserSuite (go test) bundles the
// client with esbuild, starts redis-server, the Firebase Auth emulator and
// a sessiond binary behind a same-origin reverse proxy, and runs the
// suite. It needs node, /usr/bin/chromium (or $CHROMIUM) and the npm
// packages of package-lock.json (npm ci here; make test does it).
package web
