// Package ascii holds the byte comparisons loadgen's HTTP/1.1 parsers
// (the driver's client and the null target's server) share.
package ascii

// EqualFoldLower reports whether b equals lower, a lower-case ASCII name,
// ignoring ASCII case only. Unlike bytes.EqualFold it never folds
// non-ASCII runes (U+212A KELVIN SIGN is not "k"), so a header name with
// such bytes can never pass for Content-Length or Transfer-Encoding.
func EqualFoldLower(b, lower []byte) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
