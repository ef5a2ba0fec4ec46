package tokens

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestGenerateKeyPairSignsForItsPublicKey: a token minted with the
// written private key verifies with the written public key, the private
// key is 0600, and neither file is ever overwritten.
func TestGenerateKeyPairSignsForItsPublicKey(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	if err := GenerateKeyPair(priv, pub); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	k, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMinted(MintedConfig{Users: 1, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Token(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(pub)
	if string(pubPEM) != string(m.PublicKeyPEM()) {
		t.Error("minted source's public key differs from the written one")
	}
	vk, err := jwt.ParseRSAPublicKeyFromPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return vk, nil }, jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(DefaultProject)); err != nil {
		t.Fatalf("token does not verify with the written public key: %v", err)
	}
	before, _ := os.ReadFile(priv)
	if err := GenerateKeyPair(priv, filepath.Join(dir, "other.pub")); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("second keygen over the same private key: %v", err)
	}
	if after, _ := os.ReadFile(priv); string(after) != string(before) {
		t.Error("private key was overwritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "other.pub")); err == nil {
		t.Error("a public key was written although the pair failed")
	}
}
