package s3store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
)

const fakeSecret = "wJalrXUtnFEMIfakeSECRETbPxRfiCYEXAMPLEKEY"

// TestCredentialHelperErrors runs real credential_process helpers through
// the SDK's provider and checks that the explanation names the profile, the
// helper's program and the reason, and never the helper's output.
func TestCredentialHelperErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	helper := filepath.Join(dir, "helper")
	if err := os.WriteFile(cfg, []byte("[profile ci]\ncredential_process = "+helper+" --token "+fakeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_PROFILE", "ci")
	tests := []struct {
		name, script string
		timeout      time.Duration
		want         string
	}{
		{"garbage", `echo 'debug: {"SecretAccessKey": "` + fakeSecret + `",'`, 0, "printed output that is not valid credentials JSON"},
		{"exit status", "echo " + fakeSecret + "; exit 3", 0, "exited with status 3"},
		{"not found", "exec /no/such/helper-" + fakeSecret, 0, "exited with status 127 (command not found)"},
		{"version", `echo '{"Version": 2, "AccessKeyId": "AKID", "SecretAccessKey": "` + fakeSecret + `"}'`, 0, `without "Version": 1`},
		{"no key id", `echo '{"Version": 1, "SecretAccessKey": "` + fakeSecret + `"}'`, 0, "without an AccessKeyId"},
		{"no secret", `echo '{"Version": 1, "AccessKeyId": "AKID"}'`, 0, "without a SecretAccessKey"},
		{"timeout", "echo " + fakeSecret + "; exec sleep 10", 50 * time.Millisecond, "did not finish within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := processcreds.NewProvider(tt.script, func(o *processcreds.Options) {
				if tt.timeout > 0 {
					o.Timeout = tt.timeout
				}
			})
			s := &Store{creds: aws.NewCredentialsCache(p)}
			err := s.checkCredentials(context.Background())
			if err == nil {
				t.Fatal("checkCredentials succeeded, want an error")
			}
			msg := err.Error()
			for _, want := range []string{`profile "ci"`, "credential_process (" + helper + ")", tt.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error = %q, want it to contain %q", msg, want)
				}
			}
			if strings.Contains(msg, fakeSecret) {
				t.Errorf("error repeats the helper's output: %q", msg)
			}
			if !errors.Is(err, ErrNoCredentials) || !IsNoCredentials(err) {
				t.Errorf("error %q is not ErrNoCredentials", msg)
			}
			if got := APIErrorString(err); strings.Contains(got, fakeSecret) {
				t.Errorf("APIErrorString = %q, repeats the helper's output", got)
			}
		})
	}
}

// flakyProvider fails its first n calls, then succeeds.
type flakyProvider struct {
	fail  int
	calls int
}

func (p *flakyProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.calls++
	if err := ctx.Err(); err != nil {
		return aws.Credentials{}, err
	}
	if p.calls <= p.fail {
		return aws.Credentials{}, &processcreds.ProviderError{Err: errors.New("error in credential_process: exit status 1")}
	}
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "S", Source: "ProcessProvider"}, nil
}

// TestCredentialsRetryAfterFailure checks that a failure, a cancelled
// context included, is not remembered, and that a success is.
func TestCredentialsRetryAfterFailure(t *testing.T) {
	p := &flakyProvider{fail: 2} // the first call sees the cancelled context
	s := &Store{creds: p}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.checkCredentials(cancelled); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("with a cancelled context: error = %v, want one saying it was cancelled", err)
	}
	if err := s.checkCredentials(context.Background()); err == nil {
		t.Fatal("second call: the helper fails, want an error")
	}
	for i := 0; i < 2; i++ {
		src, err := s.CredentialSource(context.Background())
		if err != nil || src != "ProcessProvider" {
			t.Fatalf("after the failures: CredentialSource = %q, %v; want ProcessProvider, nil", src, err)
		}
	}
	if p.calls != 3 {
		t.Errorf("the provider was asked %d times, want 3 (two failures, one success remembered)", p.calls)
	}
}

func TestProgram(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/helper --token " + fakeSecret, "/usr/bin/helper"},
		{`"/Applications/My Tool/helper" --token x`, "/Applications/My Tool/helper"},
		{`'/opt/a b/helper'`, "/opt/a b/helper"},
		{"  helper", "helper"},
		{"", ""},
		{`"unterminated`, `"unterminated`},
	}
	for _, tt := range tests {
		if got := program(tt.in); got != tt.want {
			t.Errorf("program(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
