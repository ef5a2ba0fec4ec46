package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// KeyBits is the size of keys GenerateKeyPair makes: RS256 with the
// 2048-bit keys Google signs Firebase ID tokens with.
const KeyBits = 2048

// NewKey makes an RSA key of KeyBits for minted tokens.
func NewKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("tokens: generate RSA key: %w", err)
	}
	return k, nil
}

// GenerateKeyPair writes a new RSA private key (PKCS#8 PEM, mode 0600)
// to privPath and its public key (PKIX PEM, 0644) to pubPath, refusing
// to overwrite either file. It pairs a long-lived sessiond --auth=local
// --auth-public-key PUB with loadgen runs given --auth-key PRIV.
func GenerateKeyPair(privPath, pubPath string) error {
	if privPath == "" || pubPath == "" {
		return errors.New("tokens: both a private and a public key path are needed")
	}
	if privPath == pubPath {
		return fmt.Errorf("tokens: private and public key paths are both %s", privPath)
	}
	key, err := NewKey()
	if err != nil {
		return err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tokens: encode private key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("tokens: encode public key: %w", err)
	}
	if err := writeNew(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		_ = os.Remove(privPath) // no half-written pair
		return err
	}
	return nil
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("tokens: %s exists; keys are never overwritten: choose another path", path)
		}
		return fmt.Errorf("tokens: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("tokens: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("tokens: write %s: %w", path, err)
	}
	return nil
}
