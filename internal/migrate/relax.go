package migrate

// RelaxJSON removes the // and /* */ comments and trailing commas that a
// JSON5 file such as openclaw.json may have, so encoding/json reads it.
func RelaxJSON(b []byte) []byte { return relaxJSON(b) }
