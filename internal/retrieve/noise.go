package retrieve

import "github.com/trove-memory/trove/internal/textlang"

// The noise filter drops memories that carry no information (see
// textlang.Noise): captured from conversations, they would match every
// query a little.

// isNoise reports whether text is noise, and which kind (textlang's
// Refusal, Greeting, Acknowledgement or NoWords).
func isNoise(text string) (bool, string) {
	kind := textlang.Noise(text)
	return kind != "", kind
}

// filterNoise drops the candidates whose text is noise, with the reason
// ("noise: greeting"). It changes no score, so it records no stage; debug
// is taken for symmetry with the other stages.
func filterNoise(cs []*candidate, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if noise, why := isNoise(c.mem.Text); noise {
			c.drop = "noise: " + why
		}
	}
}

// dropNoise removes noise from cs (sorted best first) until its first n
// candidates are clean, checking each candidate at most once; the rest of
// cs is left unchecked.
func dropNoise(cs []*candidate, n int) []*candidate {
	out := cs[:0]
	for i, c := range cs {
		if len(out) == n {
			return append(out, cs[i:]...)
		}
		if !c.noiseChecked {
			c.noiseChecked = true
			if noise, _ := isNoise(c.mem.Text); noise {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
