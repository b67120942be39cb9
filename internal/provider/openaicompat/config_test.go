package openaicompat

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	valid := Config{BaseURL: "https://api.openai.com/v1", Model: "text-embedding-3-small"}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"valid http with port", func(c *Config) { c.BaseURL = "http://localhost:11434/v1" }, ""},
		{"no BaseURL", func(c *Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"relative BaseURL", func(c *Config) { c.BaseURL = "api.openai.com/v1" }, "BaseURL"},
		{"ftp BaseURL", func(c *Config) { c.BaseURL = "ftp://example.com" }, "BaseURL"},
		{"unparsable BaseURL", func(c *Config) { c.BaseURL = "http://[::1" }, "BaseURL is not a valid URL"},
		{"no Model", func(c *Config) { c.Model = "" }, "Model is required"},
		{"negative Dimensions", func(c *Config) { c.Dimensions = -1 }, "Dimensions is -1"},
		{"negative BatchSize", func(c *Config) { c.BatchSize = -1 }, "BatchSize is -1"},
		{"negative Timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout is -1s"},
		{"negative BackoffBase", func(c *Config) { c.BackoffBase = -time.Second }, "BackoffBase"},
		{"negative MaxBackoff", func(c *Config) { c.MaxBackoff = -time.Second }, "MaxBackoff"},
		{"negative MaxRetries is fine", func(c *Config) { c.MaxRetries = -1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	err := Config{Dimensions: -1}.Validate()
	for _, field := range []string{"BaseURL", "Model", "Dimensions"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate = %v; want it to name %s", err, field)
		}
	}
}

func TestValidateHidesURLPassword(t *testing.T) {
	err := Config{BaseURL: "ftp://user:hunter2@example.com", Model: "m"}.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Validate = %v; want an error without the password", err)
	}
}

func TestConstructorsValidate(t *testing.T) {
	if _, err := NewEmbedder(Config{Model: "m"}); err == nil || !strings.Contains(err.Error(), "BaseURL") {
		t.Fatalf("NewEmbedder without BaseURL: %v", err)
	}
	if _, err := NewChat(Config{BaseURL: "http://x"}); err == nil || !strings.Contains(err.Error(), "Model") {
		t.Fatalf("NewChat without Model: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	got := Config{BaseURL: "http://x", Model: "m"}.withDefaults()
	if got.BatchSize != DefaultBatchSize || got.Timeout != DefaultTimeout || got.MaxRetries != DefaultMaxRetries ||
		got.BackoffBase != DefaultBackoffBase || got.MaxBackoff != DefaultMaxBackoff || got.Provider != "openai" ||
		got.HTTPClient == nil || got.KeyName != "the API key" {
		t.Fatalf("withDefaults = %+v", got)
	}
	hc := &http.Client{}
	kept := Config{BatchSize: 8, Timeout: time.Second, MaxRetries: 1, BackoffBase: time.Millisecond,
		MaxBackoff: time.Second, HTTPClient: hc, Provider: "acme", KeyName: "ACME_KEY"}.withDefaults()
	if kept.BatchSize != 8 || kept.Timeout != time.Second || kept.MaxRetries != 1 || kept.BackoffBase != time.Millisecond ||
		kept.MaxBackoff != time.Second || kept.HTTPClient != hc || kept.Provider != "acme" || kept.KeyName != "ACME_KEY" {
		t.Fatalf("withDefaults changed set fields: %+v", kept)
	}
	if got := (Config{MaxRetries: -5}).withDefaults().MaxRetries; got != 0 {
		t.Fatalf("MaxRetries -5 became %d, want 0 (no retries)", got)
	}
}
