package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

func tokensCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tokens", stderr)
	auth := fs.String("auth", "minted", "token pool: minted or emulator")
	count := fs.Int("count", 0, "number of tokens (users user-0 … user-<N-1>); required")
	authKey := fs.String("auth-key", "", "PEM RSA private key `file` for minted tokens (default: a new key)")
	project := fs.String("project", tokens.DefaultProject, "Firebase project `ID`")
	pubOut := fs.String("public-key-out", "", "write the minted tokens' public key PEM to this `file` (for sessiond --auth-public-key)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) > 0 {
		return usageErr(stderr, fmt.Errorf("tokens: unexpected argument %q", pos[0]))
	}
	if *count <= 0 {
		return usageErr(stderr, fmt.Errorf("tokens: --count %d: want a positive number of tokens, e.g. --count 100", *count))
	}
	var src tokens.Source
	switch *auth {
	case "minted":
		cfg := tokens.MintedConfig{Users: *count, Project: *project}
		if *authKey != "" {
			k, err := tokens.LoadPrivateKey(*authKey)
			if err != nil {
				fmt.Fprintf(stderr, "loadgen: %v\n", err)
				return exitUsage
			}
			cfg.Key = k
		}
		m, err := tokens.NewMinted(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
		if *pubOut != "" {
			if err := os.WriteFile(*pubOut, m.PublicKeyPEM(), 0o644); err != nil {
				fmt.Fprintf(stderr, "loadgen: --public-key-out: %v\n", err)
				return exitFailed
			}
		}
		src = m
	case "emulator":
		if *pubOut != "" {
			return usageErr(stderr, fmt.Errorf("--public-key-out applies to --auth minted only"))
		}
		if os.Getenv(firebaseemu.HostEnv) == "" {
			// An emulator started here would stop on exit, taking its
			// users (and the tokens' worth) with it.
			return usageErr(stderr, errors.New("tokens --auth emulator needs a running emulator: set FIREBASE_AUTH_EMULATOR_HOST (e.g. firebase emulators:start --only auth --project demo-sessionbench, then FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099)"))
		}
		e, err := tokens.NewEmulator(ctx, tokens.EmulatorConfig{Host: os.Getenv(firebaseemu.HostEnv), Project: *project, Users: *count})
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFailed
		}
		src = e
	default:
		return usageErr(stderr, fmt.Errorf("--auth %q: want minted or emulator", *auth))
	}
	for i := 0; i < *count; i++ {
		tok, err := src.Token(ctx, i)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFailed
		}
		fmt.Fprintln(stdout, tok)
	}
	return exitOK
}

func keygenCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keygen", stderr)
	out := fs.String("out", "", "write the RSA private key (PEM, mode 0600) to this `file`, for loadgen run/tokens --auth-key; required")
	pubOut := fs.String("public-key-out", "", "write its public key (PEM) to this `file`, for sessiond --auth-public-key; required")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) > 0 {
		return usageErr(stderr, fmt.Errorf("keygen: unexpected argument %q", pos[0]))
	}
	if *out == "" || *pubOut == "" {
		return usageErr(stderr, errors.New("keygen: --out KEY.pem and --public-key-out PUB.pem are both required"))
	}
	if err := tokens.GenerateKeyPair(*out, *pubOut); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "private key: %s (pass to loadgen run --auth-key)\npublic key:  %s (pass to sessiond --auth=local --auth-public-key)\n", *out, *pubOut)
	return exitOK
}
