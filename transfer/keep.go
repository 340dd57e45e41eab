package transfer

import (
	"context"
	"errors"
	"io/fs"
)

// Keeper is implemented by stores whose garbage collection must learn that
// a push relies on an object already stored, so that it does not take the
// object for unreferenced (a clone that has not fetched the push sees
// nothing refer to it).
type Keeper interface {
	// Keep records that a push relies on oid, which is stored. An error
	// wrapping fs.ErrPermission means it may not: the agent then uploads
	// the object again, which refreshes it as well.
	Keep(ctx context.Context, oid string) error
}

// keep tells the store, when it wants to know, that the push relies on
// oid. It reports whether the object must be uploaded again instead.
func (a *Agent) keep(ctx context.Context, t *Target, oid string) (upload bool, err error) {
	k, ok := t.Store.(Keeper)
	if !ok {
		return false, nil
	}
	err = k.Keep(ctx, oid)
	if errors.Is(err, fs.ErrPermission) {
		a.logf("%v: uploading %s again instead, so that gc keeps it", err, t.Store.Locate(oid))
		return true, nil
	}
	return false, err
}

// addOrAlive is add, but a count of 0 (a store waiting for a slow answer,
// such as the completion of a large multipart upload) counts as movement
// for the stall watchdog.
func (p *progressReporter) addOrAlive(n int64) {
	if n == 0 && p.moved != nil {
		p.moved()
	}
	p.add(n)
}
