package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// tokens builds the token pool: bare uids for the store driver, minted
// RS256 tokens (their public key written to the results directory), or
// users of the Firebase Auth emulator at $FIREBASE_AUTH_EMULATOR_HOST —
// or of one the harness starts (and stops) when that is unset.
func (r *run) tokens(ctx context.Context) (tokens.Source, error) {
	users := r.p.Scenario.Population.Users
	if r.p.Driver == DriverStore {
		return tokens.UIDs{N: users}, nil
	}
	if r.p.Auth == AuthEmulator {
		return r.emulatorTokens(ctx, users)
	}
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: users, Project: r.p.Project, Key: r.p.AuthKey})
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	r.onClose(m.Wait)
	if err := os.WriteFile(filepath.Join(r.p.Dir, PublicKeyFile), m.PublicKeyPEM(), 0o644); err != nil {
		return nil, fmt.Errorf("write public key: %w", err)
	}
	if r.p.Target != "" && r.p.AuthKey == nil {
		fmt.Fprintf(r.p.Log, "loadgen: note: minted tokens are signed with a key made for this run; the target must verify them with %s "+
			"(sessiond --auth=local --auth-public-key), or pass --auth-key with the key it trusts (see loadgen keygen)\n",
			filepath.Join(r.p.Dir, PublicKeyFile))
	}
	return m, nil
}

func (r *run) emulatorTokens(ctx context.Context, users int) (tokens.Source, error) {
	host := os.Getenv(firebaseemu.HostEnv)
	if host == "" {
		fmt.Fprintf(r.p.Log, "loadgen: %s unset: starting the Firebase Auth emulator\n", firebaseemu.HostEnv)
		emu, err := firebaseemu.Start(ctx, firebaseemu.Options{Project: r.p.Project})
		if err != nil {
			if errors.Is(err, firebaseemu.ErrCLIMissing) {
				return nil, &ConfigError{Err: fmt.Errorf("%w, or set %s to a running emulator", err, firebaseemu.HostEnv)}
			}
			return nil, err
		}
		r.onClose(func() {
			if err := emu.Close(); err != nil {
				fmt.Fprintf(r.p.Log, "loadgen: stop emulator: %v\n", err)
			}
		})
		host = emu.Host
	}
	src, err := tokens.NewEmulator(ctx, tokens.EmulatorConfig{Host: host, Project: r.p.Project, Users: users})
	if err != nil {
		return nil, err
	}
	return src, nil
}
