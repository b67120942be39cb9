package config

import (
	"strings"
	"testing"
	"time"
)

func TestTombstoneRetention(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := kv[k]; ok {
				return v
			}
			if k == "HOME" {
				return t.TempDir()
			}
			return ""
		}
	}
	if d := Defaults(env(nil)).TombstoneRetention.Duration; d != 30*24*time.Hour {
		t.Fatalf("default %s, want 720h", d)
	}
	c := Defaults(env(nil))
	if err := c.applyEnv(env(map[string]string{"TROVE_TOMBSTONE_RETENTION": "48h"})); err != nil || c.TombstoneRetention.Duration != 48*time.Hour {
		t.Fatalf("env: %s %v", c.TombstoneRetention, err)
	}
	if err := c.applyEnv(env(map[string]string{"TROVE_TOMBSTONE_RETENTION": "30 days"})); err == nil || !strings.Contains(err.Error(), "TROVE_TOMBSTONE_RETENTION") {
		t.Fatalf("bad env value: %v", err)
	}
	c.TombstoneRetention.Duration = -time.Hour
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tombstoneRetention") {
		t.Fatalf("negative retention: %v", err)
	}
}
