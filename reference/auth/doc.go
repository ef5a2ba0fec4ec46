// Package auth verifies Firebase ID tokens for sessiond's login endpoint.
//
// Three Verifier implementations match the --auth modes:
//
//   - NewFirebase (production, the default): golang-jwt checks the RS256
//     signature against the certificates Google publishes and the claims
//     with the Admin SDK's rules; with checkRevoked it also looks the user
//     up (Identity Toolkit REST API) to refuse revoked tokens, disabled and
//     deleted users.
//   - NewEmulator: the Firebase Auth emulator, which issues unsigned
//     tokens; the user is looked up on every call. Development only.
//   - NewLocal: golang-jwt against RSA keys from a PEM file, with the same
//     claim rules and no network, for benchmarks at thousands of logins/s.
//
// A Verify error wrapping ErrInvalidToken is the client's fault (HTTP 401);
// any other error means the verifier could not decide (HTTP 503).
// CheckEmulatorGuard and the constructors refuse any mode whose name
// disagrees with FIREBASE_AUTH_EMULATOR_HOST.
//
// The package does not use the Firebase Admin SDK: its import alone cost
// sessiond about 16 MB of resident memory for the two calls used here.
package auth
