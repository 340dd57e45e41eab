package gc

import "context"

// VersionedBucket is a Bucket that can also say whether it keeps versions.
type VersionedBucket interface {
	Bucket
	// Versioning returns the bucket's versioning status: "Enabled",
	// "Suspended" or "" when it was never turned on.
	Versioning(ctx context.Context) (string, error)
}

// Collection is what Collect did.
type Collection struct {
	// Outcomes has one entry per garbage object, as Delete returns them.
	Outcomes []Deleted
	// Deleted, InUse and Failed count the outcomes: deleted, kept because
	// a push relied on it while gc ran, and not deleted for an error.
	Deleted, InUse, Failed int
	// Recoverable says the bucket keeps versions, so the deleted objects
	// remain as noncurrent versions until a lifecycle rule expires them.
	// It is false when versioning could not be read.
	Recoverable bool
}

// Collect deletes the plan's garbage (Delete) and counts the outcomes. Like
// Delete, it deletes nothing when the plan has missing objects.
func Collect(ctx context.Context, b VersionedBucket, plan Plan, jobs int) Collection {
	c := Collection{Outcomes: Delete(ctx, b, plan, jobs)}
	for _, d := range c.Outcomes {
		switch {
		case d.Err != nil:
			c.Failed++
		case d.InUse:
			c.InUse++
		default:
			c.Deleted++
		}
	}
	if len(c.Outcomes) > 0 {
		v, err := b.Versioning(ctx)
		c.Recoverable = err == nil && v == "Enabled"
	}
	return c
}
