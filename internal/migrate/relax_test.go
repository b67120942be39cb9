package migrate

import (
	"encoding/json"
	"testing"
)

func TestRelaxJSON(t *testing.T) {
	for _, in := range []string{
		`{"a": 1, // note
		}`,
		`{"a": [1, 2, /* two */ ], "b": "x, // not a comment", }`,
		`{"a": {"b": 1,
		  // the last key was removed
		},
		/* trailing */ }`,
		`{"s": "quote \" and , ]"}`,
	} {
		var v map[string]any
		if err := json.Unmarshal(relaxJSON([]byte(in)), &v); err != nil {
			t.Errorf("%q: %v\n%s", in, err, relaxJSON([]byte(in)))
		}
	}
	var v map[string]string
	if err := json.Unmarshal(relaxJSON([]byte(`{"b": "x, // not a comment", }`)), &v); err != nil || v["b"] != "x, // not a comment" {
		t.Fatalf("string changed: %q %v", v["b"], err)
	}
}
