package events

import "testing"

func TestVerifiesVCC(t *testing.T) {
	for src, want := range map[string]bool{
		SourceReconcile + "00D5e000000KQ2e": true,
		SourceSync:                          true,
		"salesforce/00D5e000000KQ2e":        false,
		"operator/alice":                    false,
		"operator/sync-later":               false,
	} {
		if got := VerifiesVCC(src); got != want {
			t.Errorf("VerifiesVCC(%q) = %v, want %v", src, got, want)
		}
	}
}
