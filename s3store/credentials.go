package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
)

// credentialCheck resolves a store's credentials before its first request,
// so that a missing key gives one clear message instead of a signing error
// per request. Only success is remembered: a failure (a cancelled context,
// a credential helper or STS that failed for a moment) is tried again at the
// next call. The zero value is ready.
type credentialCheck struct {
	mu     sync.Mutex
	ok     bool
	source string
}

// checkCredentials resolves the store's credentials unless they already
// resolved once, and explains a failure without the SDK's text.
func (s *Store) checkCredentials(ctx context.Context) error {
	_, err := s.resolveCredentials(ctx)
	return err
}

func (s *Store) resolveCredentials(ctx context.Context) (source string, err error) {
	c := &s.cred
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok {
		return c.source, nil
	}
	if s.creds == nil {
		return "", s.credentialError(ctx, errors.New("no credential provider"))
	}
	v, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", s.credentialError(ctx, err)
	}
	c.ok, c.source = true, v.Source
	return c.source, nil
}

// CredentialSource resolves the credentials and names where they come from
// (for example EnvConfigCredentials), never the credentials themselves.
func (s *Store) CredentialSource(ctx context.Context) (string, error) {
	return s.resolveCredentials(ctx)
}

// sourceOr names where the credentials came from, for messages.
func (s *Store) sourceOr() string {
	s.cred.mu.Lock()
	src := s.cred.source
	s.cred.mu.Unlock()
	if src != "" {
		return src
	}
	return "the AWS credential chain"
}

// ErrNoCredentials is the kind of every error that says the AWS credential
// chain gave no usable credentials.
var ErrNoCredentials = errors.New("no usable AWS credentials")

// IsNoCredentials reports that the AWS credential chain found nothing
// usable, either when asked directly or while signing a request.
func IsNoCredentials(err error) bool {
	if errors.Is(err, ErrNoCredentials) || errors.As(err, new(*processcreds.ProviderError)) ||
		errors.As(err, new(*ssocreds.InvalidTokenError)) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "failed to refresh cached credentials")
}

// credentialError explains a failure of the credential chain: which profile
// and which credential helper failed, and why, but never the SDK's text,
// which for a credential_process that printed something unexpected holds
// that output, secret key and session token included.
func (s *Store) credentialError(ctx context.Context, err error) error {
	profile := s.profile()
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) {
		helper := "its credential_process"
		if prog := credentialHelper(profile); prog != "" {
			helper = fmt.Sprintf("its credential_process (%s)", prog)
		}
		return kinded(ErrNoCredentials, "no usable AWS credentials: profile %q: %s %s; its output is not shown, as it may hold secrets: "+
			"run the helper by hand to see what it prints, and fix it or the profile in your AWS config file",
			profile, helper, helperFailure(ctx, pe))
	}
	var why string
	var ite *ssocreds.InvalidTokenError
	code, status := APIError(err)
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		why = "resolving them was cancelled or timed out; run the command again"
	case errors.As(err, &ite):
		why = fmt.Sprintf("the SSO session is missing or has expired: run `aws sso login --profile %s`", profile)
	case code != "" || status != 0:
		why = fmt.Sprintf("the credential service refused (%s): check the profile's role and your login, or run `aws sso login --profile %s`",
			codeOr(code, status), profile)
	case isUnreachable(err) || isNetwork(err):
		why = fmt.Sprintf("the credential service could not be reached (%v); run the command again when the network is back", unwrapNet(err))
	default:
		why = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE or `git config datalfs.profile NAME`, or run `aws sso login`"
	}
	return kinded(ErrNoCredentials, "no usable AWS credentials (profile %q): %s", profile, why)
}

// helperFailure says why a credential_process failed, from the error's
// types and the SDK's fixed wording, never from the helper's output.
func helperFailure(ctx context.Context, pe *processcreds.ProviderError) string {
	var ee *exec.ExitError
	msg := pe.Error() // read for its fixed wording only, never printed
	switch {
	case ctx.Err() != nil:
		return "was stopped: the transfer was cancelled"
	case strings.Contains(msg, "credential process timed out"):
		return fmt.Sprintf("did not finish within %v", processcreds.DefaultTimeout)
	case errors.As(pe, &ee) && ee.ExitCode() >= 0:
		s := fmt.Sprintf("exited with status %d", ee.ExitCode())
		if ee.ExitCode() == 127 {
			s += " (command not found)"
		}
		return s
	case errors.As(pe, &ee):
		return "was killed by a signal"
	case errors.As(pe, new(*json.SyntaxError)), errors.As(pe, new(*json.UnmarshalTypeError)):
		return "printed output that is not valid credentials JSON"
	case strings.Contains(msg, "wrong version in process output"):
		return `printed credentials JSON without "Version": 1`
	case strings.Contains(msg, "missing AccessKeyId"):
		return "printed credentials JSON without an AccessKeyId"
	case strings.Contains(msg, "missing SecretAccessKey"):
		return "printed credentials JSON without a SecretAccessKey"
	case errors.Is(pe, exec.ErrNotFound), errors.Is(pe, os.ErrNotExist):
		return "could not be started"
	}
	return "failed"
}

// profile names the shared-config profile the SDK loads, the way it picks it.
func (s *Store) profile() string {
	for _, p := range []string{s.opts.Profile, os.Getenv("AWS_PROFILE"), os.Getenv("AWS_DEFAULT_PROFILE")} {
		if p != "" {
			return p
		}
	}
	return "default"
}

// credentialHelper returns the program (first word, without its arguments,
// which may hold secrets) of the credential_process that profile, or the
// profile it takes its credentials from (source_profile), runs; "" when it
// cannot tell.
func credentialHelper(profile string) string {
	sc, err := config.LoadSharedConfigProfile(context.Background(), profile, func(o *config.LoadSharedConfigOptions) {
		if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
			o.ConfigFiles = []string{f}
		}
		if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
			o.CredentialsFiles = []string{f}
		}
	})
	if err != nil {
		return ""
	}
	for c := &sc; c != nil; c = c.Source {
		if prog := program(c.CredentialProcess); prog != "" {
			return prog
		}
	}
	return ""
}

// program returns the first word of a command line, which may be quoted.
func program(cmdline string) string {
	cmdline = strings.TrimSpace(cmdline)
	if q := cmdline[:min(1, len(cmdline))]; q == `"` || q == "'" {
		if end := strings.Index(cmdline[1:], q); end >= 0 {
			return cmdline[1 : end+1]
		}
	}
	if fields := strings.Fields(cmdline); len(fields) > 0 {
		return fields[0]
	}
	return ""
}
