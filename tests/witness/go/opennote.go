// Command opennote opens a signed note with golang.org/x/mod/sumdb/note and checks its cosignature/v1 lines.
//
// Usage: opennote LOG_VKEY WITNESS_NAME WITNESS_PUBKEY_BASE64 < note
// It prints the note text, then one line per cosignature that verifies: "cosigned NAME TIMESTAMP".
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fail(err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail(err)
	}
	fmt.Print(n.Text)
	public, err := base64.StdEncoding.DecodeString(os.Args[3])
	if err != nil {
		fail(err)
	}
	for _, sig := range n.UnverifiedSigs {
		raw, err := base64.StdEncoding.DecodeString(sig.Base64)
		if err != nil || sig.Name != os.Args[2] || len(raw) != 4+8+64 {
			continue
		}
		stamp := binary.BigEndian.Uint64(raw[4:12])
		var signed bytes.Buffer
		fmt.Fprintf(&signed, "cosignature/v1\ntime %d\n%s", stamp, n.Text)
		if ed25519.Verify(ed25519.PublicKey(public), signed.Bytes(), raw[12:]) {
			fmt.Printf("cosigned %s %d\n", strings.TrimSpace(sig.Name), stamp)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
