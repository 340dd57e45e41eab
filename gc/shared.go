package gc

import (
	"fmt"

	"github.com/datalfs/datalfs/s3store"
)

// Sharing is what the user said about other repositories storing objects
// under the same prefix.
type Sharing struct {
	// Shared says the prefix is shared with other repositories.
	Shared bool
	// Others counts the clones of other repositories given to protect
	// their objects.
	Others int
	// Alone says no other repository stores objects there, even at the
	// bucket root.
	Alone bool
}

// CheckShared refuses to collect garbage under a prefix that other
// repositories may use (one declared shared, or the bucket root), unless
// their clones are given or the user states there are none: their objects
// would look unreferenced.
func CheckShared(s Sharing, loc s3store.Location) error {
	if s.Alone || s.Others > 0 {
		return nil
	}
	switch {
	case s.Shared:
		return fmt.Errorf("--shared: name a clone of every other repository that stores objects under s3://%s/%s with --also-ref-repo PATH, or gc would delete their objects",
			loc.Bucket, loc.Prefix)
	case loc.Prefix == "":
		return fmt.Errorf("the LFS URL is the root of bucket %s, where other repositories may keep objects too: "+
			"name a clone of each with --also-ref-repo PATH, or pass --no-other-repos if this repository is alone there "+
			"(better: give each repository its own prefix in the LFS URL)", loc.Bucket)
	}
	return nil
}
