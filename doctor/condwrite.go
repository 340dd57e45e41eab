package doctor

import (
	"context"
	"fmt"
	"path"

	"github.com/datalfs/datalfs/s3store"
)

// CheckCondWrites is the check that reports how pushes learn whether the
// bucket already holds an object: one conditional PUT (If-None-Match) for
// small objects, or a HEAD before every PUT.
const CheckCondWrites = "conditional writes"

func (e *env) checkCondWrites(ctx context.Context) Result {
	if !e.cfg.WriteTest {
		if mode, ok := e.store.RememberedCondWrites(); ok {
			return pass("pushes use %s (remembered from an earlier push; --write-test asks the server again)", mode)
		}
		return Result{Status: Skip, Message: fmt.Sprintf("not run: add --write-test to find out whether the server honours If-None-Match (it writes and deletes a probe key under %s)",
			e.condProbeDir())}
	}
	e.writing.Lock()
	defer e.writing.Unlock()
	mode, err := e.store.ProbeCondWrites(ctx)
	switch {
	case mode == s3store.CondWritesUnknown:
		return warn(fmt.Sprintf("allow s3:PutObject and s3:DeleteObject (and s3:DeleteObjectVersion on a versioned bucket) on %s*; pushes work without it, with a HEAD before every PUT",
			e.condProbeDir()), "cannot tell whether the server honours conditional writes: %v", err)
	case err != nil:
		return warn("delete the probe key by hand and allow s3:DeleteObject (and s3:DeleteObjectVersion) there", "pushes use %s, but %v", mode, err)
	case mode == s3store.CondWritesIgnored:
		return pass("pushes use %s: two requests per new object", mode)
	}
	return pass("pushes use %s: one request per new small object", mode)
}

// condProbeDir is where pushes (and this check) write the probe key.
func (e *env) condProbeDir() string {
	return "s3://" + path.Join(e.loc.Bucket, e.loc.Prefix, s3store.CondProbePrefix) + "/"
}
