// Package auth verifies Firebase ID tokens for sessiond's login endpoint.
//
// Three Verifier implementations match the --auth modes:
//
//   - NewFirebase (production, the default): the Firebase Admin SDK checks
//     the RS256 signature against Google's keys and the claims; with
//     checkRevoked it also refuses revoked tokens and disabled users.
//   - NewEmulator: the same SDK against the Firebase Auth emulator, which
//     issues unsigned tokens. Development only.
//   - NewLocal: golang-jwt against RSA keys from a PEM file, with the SDK's
//     claim rules and no network, for benchmarks at thousands of logins/s.
//
// A Verify error wrapping ErrInvalidToken is the client's fault (HTTP 401);
// any other error means the verifier could not decide (HTTP 503). Because
// the Admin SDK reads FIREBASE_AUTH_EMULATOR_HOST from the process by
// itself, CheckEmulatorGuard and the constructors refuse any mode whose
// name disagrees with that variable.
package auth
