package s3store

import (
	"context"
	"strings"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// How an upload's bytes are protected on the way, and what that costs:
//
//   - Over HTTPS the payload is not hashed for the signature
//     (UNSIGNED-PAYLOAD, the SDK's and the aws CLI's default there): TLS
//     already protects the bytes on the way, and each part carries a CRC32C
//     checksum the server verifies (a single PUT carries its SHA-256, the oid).
//   - Over plain HTTP nothing else protects the bytes from a party on the
//     path, so each request is signed with its payload's SHA-256, computed
//     in the same pass that hashes the whole object; the part still carries
//     its CRC32C (cheap, and verified by servers that do not check the
//     payload hash), not a second SHA-256 the server would compute again.
//
// Either way a multipart upload is completed only when the whole file,
// read in the same pass that computed each part's checksum, hashes to the
// oid, and downloads are verified against the oid again.

// hashesPayload reports whether requests go over plain HTTP, where the
// signature covers the payload's SHA-256, so uploads compute it for each part.
func (s *Store) hashesPayload() bool {
	return strings.HasPrefix(strings.ToLower(s.loc.Endpoint), "http://")
}

// withPayloadHash tells the signer the payload's SHA-256 (hex) when
// requests go over plain HTTP, so the SDK does not read the body an extra
// time to compute it. Over HTTPS it sets nothing: the SDK then sends
// UNSIGNED-PAYLOAD.
func (s *Store) withPayloadHash(hexSum string) func(*s3.Options) {
	return s3.WithAPIOptions(func(stack *middleware.Stack) error {
		if !s.hashesPayload() || hexSum == "" {
			return nil
		}
		return stack.Build.Add(middleware.BuildMiddlewareFunc("datalfsPayloadHash",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				return next.HandleBuild(v4.SetPayloadHash(ctx, hexSum), in)
			}), middleware.After)
	})
}
