package s3store

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestAbortRule: which lifecycle rule, if any, aborts the incomplete
// multipart uploads under the LFS objects prefix (doctor's check).
func TestAbortRule(t *testing.T) {
	abort := &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)}
	rule := func(id string, status types.ExpirationStatus, a *types.AbortIncompleteMultipartUpload, f *types.LifecycleRuleFilter) types.LifecycleRule {
		return types.LifecycleRule{ID: aws.String(id), Status: status, AbortIncompleteMultipartUpload: a, Filter: f}
	}
	on := types.ExpirationStatusEnabled
	tests := []struct {
		name  string
		rules []types.LifecycleRule
		want  string
	}{
		{"none", nil, ""},
		{"whole bucket", []types.LifecycleRule{rule("all", on, abort, &types.LifecycleRuleFilter{Prefix: aws.String("")})}, "all"},
		{"no filter", []types.LifecycleRule{rule("all", on, abort, nil)}, "all"},
		{"our prefix", []types.LifecycleRule{rule("ours", on, abort, &types.LifecycleRuleFilter{Prefix: aws.String("repo/")})}, "ours"},
		{"and prefix", []types.LifecycleRule{rule("and", on, abort, &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("repo/lfs")}})}, "and"},
		{"another prefix", []types.LifecycleRule{rule("other", on, abort, &types.LifecycleRuleFilter{Prefix: aws.String("logs/")})}, ""},
		{"disabled", []types.LifecycleRule{rule("off", types.ExpirationStatusDisabled, abort, nil)}, ""},
		{"expiration only", []types.LifecycleRule{rule("exp", on, nil, nil)}, ""},
		{"second rule", []types.LifecycleRule{rule("exp", on, nil, nil), rule("abort", on, abort, nil)}, "abort"},
		{"legacy prefix", []types.LifecycleRule{{ID: aws.String("legacy"), Status: on, AbortIncompleteMultipartUpload: abort, Prefix: aws.String("repo")}}, "legacy"},
	}
	for _, tt := range tests {
		r, ok := abortRule(tt.rules, "repo/lfs/objects/")
		if got := r.ID; got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: abortRule = %q, %v, want %q", tt.name, got, ok, tt.want)
		}
	}
}
